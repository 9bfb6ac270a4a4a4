"""Interface text of the chat and the widget: Chinese by default, English on request (?lang=en)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

TEXTS: dict[Lang, dict[str, str]] = {
    "zh": {
        "title": "文答 · 新闻问答",
        "intro": "用中文（或英文）提问。回答只来自已收录的新闻文章：每条回答都附上出处段落"
        "（标题、小节、段落、来源和日期），答案所在的句子以黄色标出。",
        "chat_label": "对话",
        "chat_placeholder": "请在下方输入问题，或点选一个示例问题。",
        "input_placeholder": "请输入问题，例如：峰会在哪里举行？",
        "send": "提问",
        "clear": "清空对话",
        "answer": "答：",
        "abstain": "没有找到答案：已收录的文章里没有能回答这个问题的内容。下面是最接近的段落，仅供参考。",
        "paragraph": "第{n}段",
        "score": "相关度 {score:.2f}",
        "copy": "复制引文",
        "copied": "已复制",
        "empty": "（空）",
        "error": "出错了：",
        "more": "展开全文（{n}字）",
    },
    "en": {
        "title": "Wenda · News Q&A",
        "intro": "Ask in Chinese or English. Answers come only from the indexed news articles: each reply "
        "cites its passages (title, section, paragraph, source and date) with the answering sentence "
        "highlighted in yellow.",
        "chat_label": "Conversation",
        "chat_placeholder": "Type a question below, or pick an example.",
        "input_placeholder": "Your question, e.g. 峰会在哪里举行？",
        "send": "Ask",
        "clear": "Clear",
        "answer": "Answer: ",
        "abstain": "No answer found: the indexed articles do not cover this question. "
        "The closest passages are shown below, for reference only.",
        "paragraph": "para. {n}",
        "score": "relevance {score:.2f}",
        "copy": "Copy citation",
        "copied": "Copied",
        "empty": "(empty)",
        "error": "Error: ",
        "more": "Show the whole passage ({n} characters)",
    },
}


def lang_of(value: str | None) -> Lang:
    """The supported language named by `value` (zh, zh-CN, en, en-US…), Chinese otherwise."""
    code = (value or "").strip().lower()[:2]
    return "en" if code == "en" else "zh"


def text(lang: Lang, key: str, **values: object) -> str:
    """One interface string in `lang`, formatted with `values`."""
    return TEXTS[lang][key].format(**values) if values else TEXTS[lang][key]
