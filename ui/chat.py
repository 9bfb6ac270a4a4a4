"""The Gradio chat: questions in, cited passages out, with follow-ups, feedback and examples."""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ui.render import answer_html, error_html, question_html
from ui.service import BotService, NotReadyError, QuestionError, ServiceError
from ui.settings import SAMPLE_EXAMPLES
from ui.texts import Lang, lang_of, text

TITLE = text("zh", "title")
CHAT_HEIGHT = "max(320px, calc(100vh - 260px))"  # CSS: the chat fills the page, the input stays in sight


class FeedbackLog:
    """Appends one JSON line per thumbs up/down to a file (thread-safe); does nothing without a path."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Append `entry` as one JSON line."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


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

        def on_like(recs: list, data: gr.LikeData) -> None:
            _record_feedback(feedback, recs or [], data)

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
    user_turn = {"role": "user", "content": question_html(question, lang)}
    try:
        answer = service.ask(question, top_k=top_k, history=history)
    except (QuestionError, NotReadyError) as exc:
        reply = {"role": "assistant", "content": error_html(str(exc), lang)}
        return [*chat, user_turn, reply], message, [*recs, {"question": None}]
    reply = {"role": "assistant", "content": answer_html(answer, lang)}
    return [*chat, user_turn, reply], "", [*recs, feedback_record(answer)]


def feedback_record(answer: dict[str, Any]) -> dict[str, Any]:
    """What the feedback log keeps of a reply: the question, the answer and the passages shown."""
    return {
        "question": answer["question"],
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "passages": [
            {
                "rank": p["rank"],
                "chunk_id": p["citation"]["chunk_id"],
                "article_id": p["citation"]["article_id"],
                "article_title": p["citation"]["article_title"],
                "paragraph": p["citation"]["paragraph"],
                "score": p["score"],
            }
            for p in answer["passages"]
        ],
    }


def _record_feedback(feedback: FeedbackLog, recs: list, data: gr.LikeData) -> None:
    """Log a thumbs up/down with the question and passages of the rated reply."""
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    turn = int(index) // 2  # messages alternate user, assistant
    if not 0 <= turn < len(recs) or not recs[turn].get("question"):
        return
    verdict = "up" if data.liked is True or data.liked == "Like" else "down"
    feedback.record({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "verdict": verdict, **recs[turn]})


__all__ = ["SAMPLE_EXAMPLES", "FeedbackLog", "build_chat", "feedback_record"]
