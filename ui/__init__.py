"""The user interface: Gradio chat, REST API and embeddable widget, served by one app.

Modules build objects; nothing is launched on import (`python -m ui serve` launches).
"""
