"""Question answering over an index: `from qa import load_bot`."""

from qa.bot import Bot, load_bot
from qa.cite import Answer, Citation, Passage
from qa.question import QuestionError

__all__ = ["Answer", "Bot", "Citation", "Passage", "QuestionError", "load_bot"]
