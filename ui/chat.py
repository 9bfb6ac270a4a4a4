"""The Gradio chat: questions in, cited passages out, with follow-ups, feedback and examples."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ui.render import CSS, answer_html, error_html, escape
from ui.service import BotService, NotReadyError, QuestionError

SAMPLE_EXAMPLES = (
    "2024年中国与中亚五国的贸易额达到多少？",
    "第二届中国—中亚峰会在哪里举行？",
    "“中国—中亚精神”的核心内涵是什么？",
    "Which treaty did the six heads of state sign at the summit?",
)
TITLE = "新闻问答"
INTRO = "用中文（或英文）提问，回答来自已索引的新闻文章，每段都注明出处，答案句以黄色标出。"


class FeedbackLog:
    """Appends one JSON line per thumbs up/down to a file (thread-safe)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
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
    concurrency_limit: int | None = 4,
) -> gr.Blocks:
    """Build (not launch) the chat app."""
    feedback = FeedbackLog(feedback_path)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        chatbot = gr.Chatbot(
            label="对话",
            height=560,
            render_markdown=False,
            sanitize_html=True,
            feedback_options=("Like", "Dislike"),
            placeholder="请在下方输入问题，或点选一个示例问题。",
            elem_id="wd-chatbot",
        )
        records = gr.State([])  # one {question, answer, passages} per assistant message
        with gr.Row():
            box = gr.Textbox(placeholder="请输入问题，例如：峰会在哪里举行？", show_label=False, scale=8, max_lines=4, elem_id="wd-input")
            send = gr.Button("提问", variant="primary", scale=1, elem_id="wd-send")
        clear = gr.Button("清空对话", size="sm", elem_id="wd-clear")
        if examples:
            gr.Examples(examples=[[e] for e in examples], inputs=box, label="示例问题")

        def respond(message: str, chat: list, recs: list) -> tuple[list, str, list]:
            return _respond(service, message, chat or [], recs or [], top_k)

        def on_like(recs: list, data: gr.LikeData) -> None:
            _record_feedback(feedback, recs, data)

        events = dict(fn=respond, inputs=[box, chatbot, records], outputs=[chatbot, box, records], concurrency_limit=concurrency_limit)
        send.click(**events, api_visibility="private")
        box.submit(**events, api_visibility="private")
        clear.click(lambda: ([], "", []), outputs=[chatbot, box, records], api_visibility="private")
        chatbot.like(on_like, inputs=[records], outputs=None, api_visibility="private")

        def ask(question: str, top_k: int = 5, history: list[str] | None = None) -> dict:
            """Answer a question with cited passages (the JSON of the REST API)."""
            try:
                return service.ask(question, top_k=int(top_k), history=history or [])
            except (QuestionError, NotReadyError) as exc:
                raise gr.Error(str(exc)) from exc

        gr.api(ask, api_name="ask", concurrency_limit=concurrency_limit)
    return demo


def _respond(service: BotService, message: str, chat: list, recs: list, top_k: int) -> tuple[list, str, list]:
    """Answer one chat message; errors become a one-line message in the chat."""
    question = message or ""
    history = [r["question"] for r in recs if r.get("question")]
    user_turn = {"role": "user", "content": escape(question.strip()[:2000]) or "（空）"}
    try:
        answer = service.ask(question, top_k=top_k, history=history)
    except (QuestionError, NotReadyError) as exc:
        reply = {"role": "assistant", "content": error_html(str(exc))}
        return [*chat, user_turn, reply], message, [*recs, {"question": None}]
    reply = {"role": "assistant", "content": answer_html(answer)}
    record = {
        "question": answer["question"],
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "passages": [p["citation"]["chunk_id"] for p in answer["passages"]],
    }
    return [*chat, user_turn, reply], "", [*recs, record]


def _record_feedback(feedback: FeedbackLog, recs: list, data: gr.LikeData) -> None:
    """Log a thumbs up/down with the question and passages of the rated reply."""
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    turn = int(index) // 2  # messages alternate user, assistant
    if not 0 <= turn < len(recs) or not recs[turn].get("question"):
        return
    verdict = "up" if data.liked is True or data.liked == "Like" else "down"
    feedback.record({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "verdict": verdict, **recs[turn]})


__all__ = ["CSS", "SAMPLE_EXAMPLES", "build_chat"]
