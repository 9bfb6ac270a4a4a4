"""A corpus of English articles, asked in English: read as written, not through Chinese
renderings, with English sentences, dates and numbers. Articles and questions written for
this test (2026-12-03)."""

from __future__ import annotations

import pytest

from index.build import build_index

pytestmark = pytest.mark.slow

ARTICLES = {
    "tram.md": """# City council approves new tram line

The city council voted 31 to 9 on Tuesday to approve a new tram line connecting the central station with the airport. Construction will begin in March 2027 and is expected to cost 1.2 billion euros.

Mayor Anna Berg said the line would carry 40,000 passengers a day. Opponents argued that the money should go to bus services instead.
""",
    "heat.md": """# Heatwave breaks temperature records

Temperatures reached 41.3 degrees Celsius in Seville on Sunday, the highest ever recorded in the city. The national weather service issued a red alert for six provinces.

Hospitals reported a rise in heatstroke cases, and schools closed early. Forecasters expect the heat to ease by Thursday.
""",
    "library.md": """# Library reopens after two-year renovation

The Central Library reopened on Saturday after a renovation that took two years and cost 85 million dollars. The building now has a rooftop garden, a children's wing and 300 new study desks.

Chief librarian Tomas Ortiz said more than 12,000 visitors came on the first day. The library will stay open until 10 p.m. on weekdays, two hours later than before.

The renovation was paid for by the city and a donation from the Harlow Foundation.
""",
}

ANSWERED = [
    ("When will construction begin?", "March 2027"),
    ("How much will the tram line cost?", "1.2 billion euros"),
    ("Who is the mayor?", "Anna Berg"),
    ("How many provinces got a red alert?", "six provinces"),
    ("What did hospitals report?", "heatstroke"),  # "reported" in the article
    ("When will the heat ease?", "Thursday"),
    ("How many visitors came on the first day?", "12,000"),  # not the article's first paragraph
    ("Who is the chief librarian?", "Tomas Ortiz"),
    ("Until what time is the library open on weekdays?", "10 p.m."),
    ("How much did the renovation cost?", "85 million dollars"),
]
ABSTAINED = [
    "How many books does the library hold?",
    "Who designed the library building?",
    "How much is a library card?",
    "When did Seville have an earthquake?",
    "What is the capital of France?",
]
# Not caught (left as they are, see README "Abstention"): "How much will the metro line
# cost?" is answered with the tram line's cost, since only a Chinese question's missing name
# is vetoed; "Who donated to the library?" misses "donation" (no derivations, only inflections).


@pytest.fixture(scope="module")
def english_bot(tmp_path_factory, real_embedder):
    from qa import load_bot

    corpus = tmp_path_factory.mktemp("english-corpus")
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    index = tmp_path_factory.mktemp("english-index") / "index"
    build_index(corpus, index, embedder=real_embedder, progress=False)
    return load_bot(index, embedder=real_embedder)


@pytest.mark.parametrize("question, span", ANSWERED)
def test_an_english_question_on_english_articles_is_answered_with_its_sentence(english_bot, question, span):
    answer = english_bot.ask(question)
    assert not answer.abstained and span in answer.answer, (question, answer.answer)
    assert len(answer.answer) < 120  # one sentence, not its whole paragraph


@pytest.mark.parametrize("question", ABSTAINED)
def test_an_english_question_the_english_articles_do_not_answer_abstains(english_bot, question):
    answer = english_bot.ask(question)
    assert answer.abstained and answer.answer is None, (question, answer.answer)
