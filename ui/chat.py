"""The Gradio chat: questions in, cited passages out, with follow-ups, feedback and examples."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ui.feedback import FeedbackLog, answer_record
from ui.render import answer_html, error_html, question_html
from ui.service import BotService, NotReadyError, QuestionError, ServiceError, without_surrogates
from ui.settings import SAMPLE_EXAMPLES
from ui.texts import Lang, lang_of, text

TITLE = text("zh", "title")
CHAT_HEIGHT = "max(320px, calc(100vh - 260px))"  # CSS: the chat fills the page, the input stays in sight


def build_chat(
    service: BotService,
    examples: Sequence[str] = SAMPLE_EXAMPLES,
    top_k: int = 5,
    feedback_path: Path | None = None,
    concurrency_limit: int | None = 16,
) -> gr.Blocks:
    """Build (not launch) the chat app.

    The page address may ask for `?lang=en` (English interface text) and `compact=1` (no header,
    for the widget's panel, which has its own title).
    """
    feedback = FeedbackLog(feedback_path)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        header = gr.Markdown(_header("zh"), elem_id="wd-header")
        chatbot = gr.Chatbot(
            label=text("zh", "chat_label"),
            height=CHAT_HEIGHT,
            autoscroll=False,  # the page script shows each new reply from its answer line instead
            render_markdown=False,  # replies are HTML built from escaped text (ui.render)
            sanitize_html=True,
            allow_tags=False,
            # no "share" (it would send the conversation off the machine), no "copy"/"copy_all" (they copy
            # the reply's HTML); each passage has its own copy-citation button instead
            buttons=[],
            feedback_options=("Like", "Dislike"),
            placeholder=text("zh", "chat_placeholder"),
            examples=[{"text": e} for e in examples] or None,  # shown in the empty chat; a click asks
            elem_id="wd-chatbot",
        )
        records = gr.State([])  # one {question, answer, passages} per assistant message
        lang = gr.State("zh")
        with gr.Row():
            box = gr.Textbox(
                placeholder=text("zh", "input_placeholder"),
                show_label=False,
                scale=8,
                max_lines=4,
                elem_id="wd-input",
            )
            send = gr.Button(text("zh", "send"), variant="primary", scale=1, elem_id="wd-send")
        clear = gr.Button(text("zh", "clear"), size="sm", elem_id="wd-clear")

        def respond(message: str, chat: list, recs: list, language: str) -> tuple[list, str, list]:
            return _respond(service, message, chat or [], recs or [], top_k, lang_of(language))

        def on_like(recs: list, data: gr.LikeData, request: gr.Request) -> None:
            client = request.client.host if request and request.client else "unknown"
            _record_feedback(feedback, recs or [], data, client)

        def ask_example(
            chat: list, recs: list, language: str, picked: gr.SelectData
        ) -> tuple[list, str, list]:
            return respond(_example_text(picked.value), chat, recs, language)

        def localise(request: gr.Request) -> tuple:
            params = request.query_params if request else {}
            return _localised(lang_of(params.get("lang")), compact=params.get("compact") == "1")

        demo.load(
            localise, outputs=[lang, header, chatbot, box, send, clear], queue=False, api_visibility="private"
        )
        events = {
            "fn": respond,
            "inputs": [box, chatbot, records, lang],
            "outputs": [chatbot, box, records],
            "concurrency_limit": concurrency_limit,
        }
        send.click(**events, api_visibility="private")
        box.submit(**events, api_visibility="private")
        chatbot.example_select(
            ask_example,
            inputs=[chatbot, records, lang],
            outputs=[chatbot, box, records],
            concurrency_limit=concurrency_limit,
            api_visibility="private",
        )
        clear.click(_cleared, outputs=[chatbot, box, records], api_visibility="private")
        chatbot.clear(_no_records, outputs=[records], api_visibility="private")  # its own trash button
        chatbot.like(on_like, inputs=[records], outputs=None, api_visibility="private")
        _add_api(service, concurrency_limit)
    return demo


def _add_api(service: BotService, concurrency_limit: int | None) -> None:
    """The `/ask` endpoint of the Gradio API, for gradio_client (same JSON as POST /api/ask)."""

    def ask(question: str, top_k: int = 5, history: list[str] | None = None) -> dict:
        """Answer a question with cited passages (the JSON of the REST API)."""
        try:  # the service checks each argument's type: no value is converted or truncated
            return service.ask(question, top_k=top_k, history=history)
        except (QuestionError, NotReadyError, ServiceError) as exc:
            # Gradio shows the message as HTML; it is a user error, not worth a traceback in the log
            raise gr.Error(html.escape(str(exc)), print_exception=False) from exc

    gr.api(ask, api_name="ask", concurrency_limit=concurrency_limit)


def _cleared() -> tuple[list, str, list]:
    """An empty chat, input box and record list."""
    return [], "", []


def _no_records() -> list:
    return []


def _example_text(value: Any) -> str:
    """The question of a clicked example ({"text": …} in Gradio 6)."""
    return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")


def _header(lang: Lang) -> str:
    return f"## {text(lang, 'title')}\n{text(lang, 'intro')}"


def _localised(lang: Lang, compact: bool = False) -> tuple:
    """The language state and the updates that put the interface text in `lang` (no header when compact)."""
    return (
        lang,
        gr.update(value=_header(lang), visible=not compact),
        gr.update(
            label=text(lang, "chat_label"),
            placeholder=text(lang, "chat_placeholder"),
            height="calc(100vh - 150px)" if compact else CHAT_HEIGHT,
        ),
        gr.update(placeholder=text(lang, "input_placeholder")),
        gr.update(value=text(lang, "send")),
        gr.update(value=text(lang, "clear")),
    )


def _respond(
    service: BotService, message: str, chat: list, recs: list, top_k: int, lang: Lang = "zh"
) -> tuple[list, str, list]:
    """Answer one chat message; errors become a one-line message in the chat."""
    question = message or ""
    history = [r["question"] for r in recs if r.get("question")]
    shown = without_surrogates(question)  # an unpaired surrogate cannot be sent back to the page
    user_turn = {"role": "user", "content": question_html(shown, lang)}
    try:
        answer = service.ask(question, top_k=top_k, history=history)
    except (QuestionError, NotReadyError, ServiceError) as exc:
        reply = {"role": "assistant", "content": error_html(str(exc), lang)}
        return [*chat, user_turn, reply], shown, [*recs, {"question": None}]
    reply = {"role": "assistant", "content": answer_html(answer, lang)}
    return [*chat, user_turn, reply], "", [*recs, answer_record(answer)]


feedback_record = answer_record  # what the server keeps of a reply for feedback (ui.feedback)


def _record_feedback(feedback: FeedbackLog, recs: list, data: gr.LikeData, client: str = "unknown") -> str:
    """Record a thumbs up/down on the rated reply, from the server's record of it (the session's
    state, never the page's copy); return what happened (see FeedbackLog.vote)."""
    raw = data._data if isinstance(getattr(data, "_data", None), dict) else {}
    index = raw.get("index")
    if isinstance(index, (list, tuple)) and index:
        index = index[0]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return "refused: index must be a message number"
    turn = index // 2  # messages alternate user, assistant
    if turn >= len(recs) or not isinstance(recs[turn], dict) or not recs[turn].get("answer_id"):
        return "refused: no such answer"
    return feedback.vote(recs[turn], raw.get("liked"), client)


__all__ = ["SAMPLE_EXAMPLES", "FeedbackLog", "build_chat", "feedback_record"]
