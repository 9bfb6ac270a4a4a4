"""The Gradio chat: questions in, cited passages out, with follow-ups, feedback and examples.

Asking is two steps: the question and a "正在查找…" reply show at once (no queue), then the
answer replaces that reply. The page script (ui/static/chat.js) keeps what Gradio cannot: the
language and theme of the page, Send and the examples disabled while a reply is pending, the
question put back with a message when the request fails, the character counter, and the
conversation in the browser's storage (restored on load, emptied by Clear).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from qa import QuestionError
from ui.feedback import FeedbackLog, feedback_record
from ui.render import PENDING_CLASS, answer_html, error_html, pending_html, question_html
from ui.service import BotService, NotReadyError, ServiceError, without_surrogates
from ui.settings import FEEDBACK_MAX_BYTES, SAMPLE_EXAMPLES
from ui.texts import Lang, lang_of, text

TITLE = text("zh", "title")
KEEP_TURNS = 30  # answered turns kept in the browser's storage and restored on load
_NO_EVENT = gr.EventData(None, {})  # what on_like gets when Gradio has no event data to pass


def build_chat(
    service: BotService,
    examples: Sequence[str] = SAMPLE_EXAMPLES,
    top_k: int = 5,
    feedback_path: Path | None = None,
    concurrency_limit: int | None = 16,
    placeholder: dict[str, str] | None = None,
    feedback_max_bytes: int = FEEDBACK_MAX_BYTES,
) -> gr.Blocks:
    """Build (not launch) the chat app.

    The page address may ask for `?lang=en` (English interface text), `theme=light|dark|auto`,
    `color=#RRGGBB` (accent) and `compact=1` (no header, for the widget's panel, which has its own
    title); the page script reads them (ui/static/chat.js).
    """
    feedback = FeedbackLog(feedback_path, feedback_max_bytes)
    placeholders = {
        lang: (placeholder or {}).get(lang) or text(lang, "input_placeholder") for lang in ("zh", "en")
    }
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_height=True) as demo:
        header = gr.HTML(_header_html("zh"), elem_id="wd-header", padding=False)
        chatbot = gr.Chatbot(
            label=text("zh", "chat_label"),
            show_label=False,
            scale=1,
            height="100%",
            min_height=240,
            autoscroll=False,  # the page script shows each new reply from its answer line instead
            render_markdown=False,  # replies are HTML built from escaped text (ui.render)
            sanitize_html=True,
            allow_tags=False,
            # no "share" (it would send the conversation off the machine), no "copy"/"copy_all" (they copy
            # the reply's HTML); each passage has its own copy-citation button instead
            buttons=[],
            feedback_options=("Like", "Dislike"),
            layout="panel",  # replies with their passages use the whole width, phones included
            placeholder=text("zh", "chat_placeholder"),
            elem_id="wd-chatbot",
        )
        with gr.Column(elem_id="wd-examples", visible=bool(examples)) as example_box:
            example_title = gr.HTML(_examples_title("zh"), padding=False)
            with gr.Row(elem_id="wd-example-buttons"):
                example_buttons = [
                    gr.Button(e, size="sm", elem_classes=["wd-example"], min_width=0) for e in examples
                ]
        with gr.Group(visible=False, elem_id="wd-feedback") as feedback_box:
            feedback_ack = gr.HTML("", elem_id="wd-feedback-ack", padding=False)
            reason = gr.Textbox(
                label=text("zh", "feedback_reason"),
                placeholder=text("zh", "feedback_reason_placeholder"),
                max_lines=3,
                max_length=500,
                elem_id="wd-reason",
            )
            with gr.Row():
                reason_send = gr.Button(text("zh", "feedback_send"), size="sm", elem_id="wd-reason-send")
                feedback_close = gr.Button(
                    text("zh", "feedback_close"), size="sm", elem_id="wd-feedback-close"
                )
        with gr.Row(elem_id="wd-ask", equal_height=True):
            box = gr.Textbox(
                label=text("zh", "input_label"),
                placeholder=placeholders["zh"],
                show_label=False,
                scale=8,
                lines=1,
                max_lines=4,
                elem_id="wd-input",
            )
            send = gr.Button(text("zh", "send"), variant="primary", scale=1, min_width=72, elem_id="wd-send")
        with gr.Row(elem_id="wd-under"):
            status = gr.HTML(_status_html(service), elem_id="wd-status", padding=False)
            clear = gr.Button(text("zh", "clear"), size="sm", scale=0, min_width=0, elem_id="wd-clear")
        records = gr.State([])  # per assistant message: the answer shown, or {"question": None}
        lang = gr.State("zh")
        pending = gr.State("")  # the question being answered
        verdict_id = gr.State("")  # the feedback line a reason belongs to
        boot = gr.Textbox(visible=False)  # from the page script on load: {"lang", "compact", "saved"}
        saved = gr.Textbox(visible=False)  # to the page script: the conversation to keep in the browser

        def on_boot(raw: str | None, request: gr.Request) -> tuple:
            return _booted(raw, request, placeholders, service, bool(examples))

        demo.load(
            on_boot,
            inputs=[boot],
            outputs=[
                lang,
                header,
                chatbot,
                box,
                send,
                clear,
                example_box,
                example_title,
                records,
                status,
                reason,
                reason_send,
                feedback_close,
            ],
            js="(raw) => [window.wenda ? window.wenda.boot() : null]",
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        ).then(None, js="() => { window.wenda && window.wenda.ready(); }")

        def start(question: str, chat: list, recs: list, language: str) -> tuple:
            return _start(question, chat or [], recs or [], lang_of(language), service)

        def finish(question: str, chat: list, recs: list, language: str) -> tuple:
            return _finish(
                service, question, chat or [], recs or [], top_k, lang_of(language), feedback.remember
            )

        def ask_from(trigger, question_input) -> None:
            step = trigger(
                start,
                inputs=[question_input, chatbot, records, lang],
                outputs=[pending, chatbot, box, records, example_box],
                queue=False,
                show_progress="hidden",
                api_visibility="private",
            )
            step.success(
                finish,
                inputs=[pending, chatbot, records, lang],
                outputs=[chatbot, box, records, saved],
                concurrency_limit=concurrency_limit,
                show_progress="hidden",
                api_visibility="private",
            ).then(None, inputs=[saved], js="(s) => { window.wenda && window.wenda.done(s); }")

        ask_from(send.click, box)
        ask_from(box.submit, box)
        for button in example_buttons:
            ask_from(button.click, button)

        # gr.EventData, not gr.LikeData: LikeData fails on a malformed event before this code can
        # say no; _liked checks the event's fields itself. Gradio passes nothing when the event has
        # no data, hence the default
        def on_like(recs: list, language: str, request: gr.Request, data: gr.EventData = _NO_EVENT) -> tuple:
            return _liked(feedback, recs or [], lang_of(language), data, _client(request))

        def on_reason(note: str, entry: str, language: str, request: gr.Request) -> tuple:
            return _reasoned(feedback, note, entry, lang_of(language), _client(request))

        chatbot.like(
            on_like,
            inputs=[records, lang],
            outputs=[feedback_box, feedback_ack, reason, reason_send, verdict_id],
            queue=False,
            api_visibility="private",
        )
        for send_reason in (reason_send.click, reason.submit):
            send_reason(
                on_reason,
                inputs=[reason, verdict_id, lang],
                outputs=[feedback_ack, reason, reason_send],
                queue=False,
                api_visibility="private",
            )
        feedback_close.click(
            lambda: gr.update(visible=False), outputs=[feedback_box], queue=False, api_visibility="private"
        )

        def cleared() -> tuple:
            return _cleared(bool(examples))

        clear.click(
            cleared,
            outputs=[chatbot, box, records, saved, example_box, feedback_box],
            queue=False,
            api_visibility="private",
        ).then(None, js="() => { window.wenda && window.wenda.cleared(); }")
        chatbot.clear(_no_records, outputs=[records], api_visibility="private")  # its own trash button
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


def _header_html(lang: Lang) -> str:
    return f'<h1 class="wd-h1">{text(lang, "title")}</h1><p class="wd-intro">{text(lang, "intro")}</p>'


def _examples_title(lang: Lang) -> str:
    return f'<h2 class="wd-h2">{text(lang, "examples")}</h2>'


def _status_html(service: BotService) -> str:
    """The page script's place for the counter and messages, with the length limit it checks."""
    return (
        f'<div class="wd-status" data-limit="{int(service.max_question_chars)}">'
        '<span class="wd-counter" aria-live="polite"></span><span class="wd-message" role="alert"></span></div>'
    )


def _booted(
    raw: str | None, request: gr.Request | None, placeholders: dict, service: BotService, has_examples: bool
) -> tuple:
    """The interface in the page's language, and the conversation the browser kept, shown again."""
    info = _json_object(raw)
    params = request.query_params if request else {}
    lang = lang_of(info.get("lang") or params.get("lang"))
    compact = bool(info.get("compact")) or params.get("compact") == "1"
    recs = restorable(info.get("saved"))
    chat = [m for r in recs for m in _turn(r, lang)]
    header = _header_html(lang)
    return (
        lang,
        gr.update(value=header, elem_classes=["wd-compact"] if compact else []),
        gr.update(value=chat, label=text(lang, "chat_label"), placeholder=text(lang, "chat_placeholder")),
        gr.update(label=text(lang, "input_label"), placeholder=placeholders[lang]),
        gr.update(value=text(lang, "send")),
        gr.update(value=text(lang, "clear")),
        gr.update(visible=has_examples and not chat),
        gr.update(value=_examples_title(lang)),
        recs,
        gr.update(value=_status_html(service)),
        gr.update(label=text(lang, "feedback_reason"), placeholder=text(lang, "feedback_reason_placeholder")),
        gr.update(value=text(lang, "feedback_send")),
        gr.update(value=text(lang, "feedback_close")),
    )


def _json_object(raw: str | None) -> dict:
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def restorable(saved: Any) -> list[dict]:
    """The answered turns of a conversation kept by the browser that can be shown again (bad ones dropped)."""
    if isinstance(saved, str):
        try:
            saved = json.loads(saved)
        except ValueError:
            return []
    if not isinstance(saved, list):
        return []
    good = []
    for item in saved[-KEEP_TURNS:]:
        try:
            answer_html(item)
            question_html(item["question"])
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        good.append(item)
    return good


def _turn(answer: dict, lang: Lang) -> list[dict]:
    return [
        {"role": "user", "content": question_html(answer["question"])},
        {"role": "assistant", "content": answer_html(answer, lang)},
    ]


def kept(recs: Sequence[dict]) -> str:
    """What the browser keeps of the conversation: the answered turns (the last KEEP_TURNS), as JSON."""
    answered = [r for r in recs if r.get("question") and "passages" in r]
    return json.dumps(answered[-KEEP_TURNS:], ensure_ascii=False)


def check_length(question: str, service: BotService, lang: Lang) -> str | None:
    """The message for a question that cannot be sent (empty or too long), else None."""
    if not question.strip():
        return text(lang, "empty")
    limit = service.max_question_chars
    if len(question) > limit:
        return text(lang, "too_long", limit=limit, n=len(question))
    return None


def _start(question: str, chat: list, recs: list, lang: Lang, service: BotService) -> tuple:
    """Show the question and a pending reply at once; nothing is sent for an empty or over-long question."""
    question = question or ""
    if check_length(question, service, lang):  # the page script says why before sending
        return "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
    if chat and PENDING_CLASS in str(chat[-1].get("content", "")):  # a reply that never came
        chat, recs = chat[:-2], recs[:-1]
    turn = [
        {"role": "user", "content": question_html(without_surrogates(question))},
        {"role": "assistant", "content": pending_html(lang)},
    ]
    return question, [*chat, *turn], "", [*recs, {"question": None}], gr.update(visible=False)


def _finish(
    service: BotService,
    question: str,
    chat: list,
    recs: list,
    top_k: int,
    lang: Lang,
    remember: Callable[[dict], dict] | None = None,
) -> tuple:
    """Replace the pending reply with the answer; on an error, say so and put the question back.

    `remember` (FeedbackLog.remember) gives the answer its server-issued id for feedback.
    """
    if not question:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    history = [r["question"] for r in recs[:-1] if isinstance(r, dict) and isinstance(r.get("question"), str)]
    try:
        answer = service.ask(question, top_k=top_k, history=history)
    except (QuestionError, NotReadyError, ServiceError) as exc:
        reply = {
            "role": "assistant",
            "content": error_html(error_message(exc, question, service, lang), lang),
        }
        shown = without_surrogates(question)  # an unpaired surrogate cannot be sent back to the page
        return [*chat[:-1], reply], shown, [*recs[:-1], {"question": None}], gr.skip()
    if remember is not None:
        answer = remember(answer)
    reply = {"role": "assistant", "content": answer_html(answer, lang)}
    recs = [*recs[:-1], answer]
    return [*chat[:-1], reply], gr.skip(), recs, kept(recs)


def error_message(exc: Exception, question: str, service: BotService, lang: Lang) -> str:
    """A failure in the page's language (the service's own messages are bilingual)."""
    if isinstance(exc, NotReadyError):
        return text(lang, "load_failed" if service.failed else "not_ready")
    return check_length(question, service, lang) or str(exc)


def _respond(
    service: BotService, message: str, chat: list, recs: list, top_k: int, lang: Lang = "zh"
) -> tuple[list, str, list]:
    """Both steps at once (for tests and scripts): the chat, the box and the records after one question."""
    question, chat2, box, recs2, _ = _start(message, chat, recs, lang, service)
    if not question:
        return chat, message, recs
    chat3, box3, recs3, _ = _finish(service, question, chat2, recs2, top_k, lang)
    return chat3, (question if isinstance(box3, str) else box), recs3


def _client(request: gr.Request | None) -> str:
    """The client's address, for the feedback rate limit (behind a proxy: the proxy's)."""
    client = getattr(request, "client", None) if request is not None else None
    return str(getattr(client, "host", None) or "unknown")


def _liked(
    feedback: FeedbackLog, recs: list, lang: Lang, data: gr.EventData, client: str = "unknown"
) -> tuple:
    """Record a thumbs up/down on the rated reply from the server's record of it (FeedbackLog.vote);
    thank the reader and offer a field for the reason. Replies that are errors, still pending,
    restored from the browser after a restart, or votes refused (see FeedbackLog) get nothing."""
    skip = gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    raw = data._data if isinstance(getattr(data, "_data", None), dict) else {}
    index = raw.get("index")
    if isinstance(index, (list, tuple)) and index:
        index = index[0]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return skip
    turn = index // 2  # messages alternate user, assistant
    if turn >= len(recs) or not isinstance(recs[turn], dict):
        return skip
    _outcome, line_id = feedback.vote(recs[turn].get("answer_id"), raw.get("liked"), client)
    if line_id is None:
        return skip
    thanks = f'<p class="wd-thanks" role="status">{text(lang, "feedback_thanks")}</p>'
    ready = gr.update(value="", interactive=True)
    return gr.update(visible=True), thanks, ready, gr.update(interactive=True), line_id


def _reasoned(feedback: FeedbackLog, note: str, entry: str, lang: Lang, client: str = "unknown") -> tuple:
    """Log the optional reason of the last verdict (one per verdict)."""
    if feedback.reason(entry, note, client) != "recorded":
        return gr.skip(), gr.skip(), gr.skip()
    thanks = f'<p class="wd-thanks" role="status">{text(lang, "feedback_reason_thanks")}</p>'
    return thanks, gr.update(value="", interactive=False), gr.update(interactive=False)


def _cleared(has_examples: bool) -> tuple:
    """An empty chat, input box, record list and kept conversation; the examples again."""
    return [], "", [], "[]", gr.update(visible=has_examples), gr.update(visible=False)


def _no_records() -> list:
    return []


__all__ = ["SAMPLE_EXAMPLES", "FeedbackLog", "build_chat", "feedback_record", "restorable"]
