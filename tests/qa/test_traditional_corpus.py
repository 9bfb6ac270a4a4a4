"""The sample corpus in traditional characters, questions too: the same answers and the same
abstentions as the simplified original (issue 11: within one point)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import opencc
import pytest

from index.build import build_index
from qa.evaluate import EvalItem, read_items, squash

EVAL = Path(__file__).resolve().parents[2] / "eval"
pytestmark = pytest.mark.slow


def _items() -> list[EvalItem]:
    return read_items(EVAL / "sample_answerable.jsonl") + read_items(EVAL / "sample_unanswerable.jsonl")


def _outcomes(bot, items: list[EvalItem]) -> list[tuple[bool, bool]]:
    """(an answer in the top 5, abstained) per question."""
    out = []
    for item in items:
        answer = bot.ask(item.question, history=list(item.history))
        found = any(squash(a) in squash(p.text) for a in item.answers for p in answer.passages)
        out.append((found, answer.abstained))
    return out


@pytest.fixture(scope="module")
def traditional(tmp_path_factory, sample_corpus, real_embedder):
    """The sample corpus and our sample sets converted with OpenCC s2t, and a bot over them."""
    from qa import load_bot

    convert = opencc.OpenCC("s2t").convert
    corpus = tmp_path_factory.mktemp("trad-corpus")
    for path in sorted(sample_corpus.iterdir()):
        (corpus / path.name).write_text(convert(path.read_text(encoding="utf-8")), encoding="utf-8")
    text = squash("".join(p.read_text(encoding="utf-8") for p in corpus.iterdir()))
    items = []
    for item in _items():
        answers = tuple(convert(a) for a in item.answers)
        assert all(squash(a) in text for a in answers), item  # still verbatim in the converted text
        history = tuple(convert(h) for h in item.history)
        items.append(replace(item, question=convert(item.question), answers=answers, history=history))
    index = tmp_path_factory.mktemp("trad-index") / "index"
    build_index(corpus, index, embedder=real_embedder, progress=False)
    return load_bot(index, embedder=real_embedder), items


def test_a_traditional_corpus_answers_and_abstains_as_the_simplified_one(sample_bot, traditional):
    bot, converted = traditional
    original = _items()
    assert sum(c.question != o.question for c, o in zip(converted, original)) > 50  # really converted
    simplified, trad = _outcomes(sample_bot, original), _outcomes(bot, converted)
    answerable = [i for i, item in enumerate(original) if item.answers]
    unanswerable = [i for i, item in enumerate(original) if not item.answers]

    def share(outcomes, rows, field):
        return sum(outcomes[i][field] for i in rows) / len(rows)

    # answer recall@5 and false abstentions within one point of the simplified corpus
    assert abs(share(trad, answerable, 0) - share(simplified, answerable, 0)) <= 0.0125
    assert abs(share(trad, answerable, 1) - share(simplified, answerable, 1)) <= 0.0125
    # and the unanswerable questions abstain as often, within two of the 80
    assert abs(share(trad, unanswerable, 1) - share(simplified, unanswerable, 1)) <= 0.025
