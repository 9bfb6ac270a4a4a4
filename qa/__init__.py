"""Question answering over an index: `from qa import load_bot`."""

from qa.bot import Bot, QuestionError, load_bot
from qa.cite import Answer, Citation, Passage

__all__ = ["Answer", "Bot", "Citation", "Passage", "QuestionError", "load_bot"]
