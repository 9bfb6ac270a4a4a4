"""Interface text of the chat and the widget: Chinese by default, English on request (?lang=en).

Every string a reader sees (or hears from a screen reader) comes from here, in the page's one
language; `BROWSER_TEXTS` are the ones the page script needs (pending state, errors, counter).
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
GRADIO_LOCALES: dict[Lang, str] = {"zh": "zh-CN", "en": "en"}  # Gradio's own strings, same language

TEXTS: dict[Lang, dict[str, str]] = {
    "zh": {
        "title": "文答 · 新闻问答",
        "intro": "用中文（或英文）提问。回答只来自已收录的新闻文章，并附上出处段落（标题、小节、段落、来源和日期），"
        "答案所在的句子标亮显示。",
        "chat_label": "对话",
        "chat_placeholder": "请在下方输入问题，或点选一个示例问题。",
        "input_label": "问题",
        "input_placeholder": "请输入问题",
        "examples": "示例问题",
        "send": "提问",
        "clear": "清空对话",
        "answer": "答：",
        "abstain": "已收录的文章没有涉及这个问题，找不到答案。",
        "closest": "最接近的段落（并未回答这个问题，仅供参考）",
        "supporting": "出处",
        "others": "更多相关段落（{n}）",
        "paragraph": "第{n}段",
        "score": "相关度 {score:.2f}",
        "copy": "复制引文",
        "copied": "已复制",
        "original": "阅读原文",
        "new_tab": "（在新标签页打开）",
        "section": "展开所在小节",
        "section_hide": "收起小节",
        "section_loading": "正在载入小节…",
        "section_failed": "小节载入失败，请稍后再试。",
        "more": "展开全文（{n}字）",
        "also_in": "亦见于：",
        "also_sep": "、",
        "also_more": "等{total}篇",
        "pending": "正在查找…",
        "error": "出错了：",
        "not_ready": "索引正在加载，请稍候再试。",
        "load_failed": "索引加载失败，请联系网站管理员。",
        "failed": "没有连上问答服务，问题未能送达。问题已保留在输入框中，请稍后重试。",
        "interrupted": "未能送达",
        "reconnected": "已重新连上问答服务，问题还在输入框中：请再按一次“提问”。",
        "empty": "请先输入问题。",
        "too_long": "问题太长：最多 {limit} 字，现在 {n} 字。",
        "counter": "{n} / {limit} 字",
        "feedback_thanks": "谢谢反馈！",
        "feedback_reason": "原因（可选）",
        "feedback_reason_placeholder": "例如：答案不对，或出处没有回答问题",
        "feedback_send": "发送原因",
        "feedback_close": "关闭",
        "feedback_reason_thanks": "谢谢，我们收到了你的说明。",
        "like": "有帮助",
        "dislike": "没有帮助",
        "user_message": "你的问题：",
        "bot_message": "回答：",
        "conversation": "对话记录",
        "open": "打开问答",
        "close": "关闭",
    },
    "en": {
        "title": "Wenda · News Q&A",
        "intro": "Ask in Chinese or English. Answers come only from the indexed news articles: each reply "
        "cites its passages (title, section, paragraph, source and date) with the answering sentence "
        "highlighted.",
        "chat_label": "Conversation",
        "chat_placeholder": "Type a question below, or pick an example.",
        "input_label": "Question",
        "input_placeholder": "Type your question",
        "examples": "Example questions",
        "send": "Ask",
        "clear": "Clear",
        "answer": "Answer: ",
        "abstain": "The indexed articles do not cover this question: no answer found.",
        "closest": "Closest passages (they do not answer the question; for reference only)",
        "supporting": "Sources",
        "others": "More related passages ({n})",
        "paragraph": "para. {n}",
        "score": "relevance {score:.2f}",
        "copy": "Copy citation",
        "copied": "Copied",
        "original": "Read the article",
        "new_tab": " (opens in a new tab)",
        "section": "Show the whole section",
        "section_hide": "Hide the section",
        "section_loading": "Loading the section…",
        "section_failed": "The section could not be loaded; try again later.",
        "more": "Show the whole passage ({n} characters)",
        "also_in": "Also printed in: ",
        "also_sep": ", ",
        "also_more": " and {more} more",
        "pending": "Searching…",
        "error": "Error: ",
        "not_ready": "The index is still loading; try again in a moment.",
        "load_failed": "The index could not be loaded; please tell the site's operator.",
        "failed": "Could not reach the Q&A service, so the question was not sent. "
        "It is still in the box: try again in a moment.",
        "interrupted": "Not sent",
        "reconnected": "Connected again; the question is still in the box: press Ask once more.",
        "empty": "Type a question first.",
        "too_long": "The question is too long: at most {limit} characters, this one has {n}.",
        "counter": "{n} / {limit} characters",
        "feedback_thanks": "Thanks for the feedback!",
        "feedback_reason": "Reason (optional)",
        "feedback_reason_placeholder": "e.g. the answer is wrong, or the source does not answer",
        "feedback_send": "Send reason",
        "feedback_close": "Close",
        "feedback_reason_thanks": "Thanks, we received your note.",
        "like": "Helpful",
        "dislike": "Not helpful",
        "user_message": "Your question: ",
        "bot_message": "Reply: ",
        "conversation": "Conversation",
        "open": "Open the Q&A chat",
        "close": "Close",
    },
}

# strings the page script shows or reads out (pending state, failures, validation, relabelled Gradio parts)
BROWSER_TEXTS = (
    "pending",
    "failed",
    "interrupted",
    "reconnected",
    "empty",
    "too_long",
    "counter",
    "copied",
    "section",
    "section_hide",
    "section_loading",
    "section_failed",
    "like",
    "dislike",
    "user_message",
    "bot_message",
    "conversation",
    "clear",
    "new_tab",
)


def lang_of(value: str | None) -> Lang:
    """The supported language named by `value` (zh, zh-CN, en, en-US…), Chinese otherwise."""
    code = (value or "").strip().lower()[:2]
    return "en" if code == "en" else "zh"


def text(lang: Lang, key: str, **values: object) -> str:
    """One interface string in `lang`, formatted with `values`."""
    return TEXTS[lang][key].format(**values) if values else TEXTS[lang][key]


def browser_texts() -> dict[str, dict[str, str]]:
    """The strings the page script needs, per language."""
    return {lang: {key: TEXTS[lang][key] for key in BROWSER_TEXTS} for lang in LANGS}
