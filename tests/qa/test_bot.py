"""The bot end to end on the sample corpus: with a fake embedder (fast) and the real model."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import unicodedata

import pytest

from index.build import build_index
from index.errors import IndexNotFoundError
from qa import QuestionError, load_bot
from qa.__main__ import render_text
from qa.question import check_question, clip, visible


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


@pytest.fixture
def fake_bot(sample_corpus, tmp_path, fake_embedder):
    build_index(sample_corpus, tmp_path / "idx", embedder=fake_embedder, progress=False)
    return load_bot(tmp_path / "idx", embedder=fake_embedder)


def test_answer_shape_and_citations(fake_bot):
    answer = fake_bot.ask("2024年中国与中亚五国的贸易额达到多少？", top_k=3).to_dict()
    assert set(answer) == {"question", "answer", "abstained", "passages"}
    assert 1 <= len(answer["passages"]) <= 3
    for rank, passage in enumerate(answer["passages"], start=1):
        cite = passage["citation"]
        assert passage["rank"] == rank
        assert set(cite) >= {
            "article_id",
            "article_title",
            "section",
            "paragraph",
            "source",
            "date",
            "chunk_id",
            "start",
            "end",
        }
        article = fake_bot.index.articles[cite["article_id"]]
        assert article.text[cite["start"] : cite["end"]] == passage["text"]
        assert cite["source"] == "人民日报" and cite["date"] == "6月30日"
        for start, end in passage["highlights"]:
            assert 0 <= start < end <= len(passage["text"])


def test_same_question_gives_the_same_ranking(fake_bot):
    first = fake_bot.ask("中亚国家重申恪守什么原则？").to_dict()
    again = fake_bot.ask("中亚国家重申恪守什么原则？").to_dict()
    assert first == again


def test_overlapping_chunks_of_one_article_are_merged(fake_bot):
    answer = fake_bot.ask("中国—中亚精神", top_k=10)
    spans = [(p.citation.article_id, p.citation.start, p.citation.end) for p in answer.passages]
    for i, (a, s, e) in enumerate(spans):
        for b, s2, e2 in spans[i + 1 :]:
            assert a != b or e <= s2 or e2 <= s, "overlapping passages were returned separately"


@pytest.mark.parametrize("bad", ["", "   \n\t ", "问" * 100_000, "\x00", "\u200b\ufeff \x07"])
def test_bad_questions_are_refused_with_a_clear_message(fake_bot, bad):
    with pytest.raises(QuestionError) as info:
        fake_bot.ask(bad)
    assert "\n" not in str(info.value)


def test_control_and_format_characters_are_dropped_from_questions_and_history():
    # a NUL or a zero-width space pasted into the box is not a question, nor part of one
    assert check_question("峰会\u200b在哪里\x00举行？\ufeff") == "峰会在哪里举行？"
    assert check_question("Where\twas it\r\nheld?") == "Where was it held?"
    assert clip("\u202e峰会\x1b在哪里举行？", 4) == "峰会在哪"
    assert visible("第二届中国—中亚峰会 Astana 2025年") == "第二届中国—中亚峰会 Astana 2025年"


def test_missing_index_is_a_named_error(tmp_path):
    with pytest.raises(IndexNotFoundError, match="python -m index build"):
        load_bot(tmp_path / "missing")


@pytest.mark.slow
def test_trade_question_finds_948_first(sample_bot):
    answer = sample_bot.ask("2024年中国与中亚五国的贸易额达到多少？")
    assert not answer.abstained
    assert "948亿美元" in answer.passages[0].text
    assert "948亿美元" in answer.answer
    assert answer.passages[0].citation.article_id == "000_40a999470f34a1c1#1"
    start, end = answer.passages[0].highlights[0]
    assert "948亿美元" in answer.passages[0].text[start:end]


@pytest.mark.slow
def test_seed_questions_all_found_in_top5_and_abstention(sample_bot, seed_questions):
    for row in seed_questions:
        answer = sample_bot.ask(row["question"], top_k=5, history=row.get("history"))
        if row["answers"]:
            texts = [_squash(p.text) for p in answer.passages]
            assert any(_squash(a) in t for a in row["answers"] for t in texts), row["id"]
            assert not answer.abstained, f"{row['id']} abstained"
        else:
            assert answer.abstained and answer.answer is None, row["id"]
            assert answer.passages, "an abstaining answer still offers the closest passages"


@pytest.mark.slow
def test_corpus_sentences_are_segmented_before_the_first_question(sample_bot, seed_questions):
    from qa.answer import token_set

    assert sample_bot.warm_sentence_tokens(limit=5) == 5
    warmed = (
        sample_bot.warm_sentence_tokens()
    )  # load_bot started this in a thread; again, it only hits the cache
    assert warmed > 100  # both articles' sentences and section contexts
    misses = token_set.cache_info().misses
    for row in seed_questions:
        sample_bot.ask(row["question"], history=row.get("history"))
    assert token_set.cache_info().misses == misses  # no sentence was segmented while answering


@pytest.mark.slow
def test_follow_up_question_uses_the_history(sample_bot):
    answer = sample_bot.ask("那吉尔吉斯斯坦呢？", history=["哈萨克斯坦的新经济政策叫什么？"])
    assert any("2026年前国家发展纲要" in p.text for p in answer.passages[:3])


@pytest.mark.slow
def test_cli_ask_json_and_one_line_errors(sample_index, tmp_path):
    run = [sys.executable, "-m", "qa", "ask", "--index", str(sample_index)]
    done = subprocess.run(
        [*run, "--json", "2024年中国与中亚五国的贸易额达到多少？"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "948亿美元" in data["passages"][0]["text"]
    assert data["passages"][0]["citation"]["article_id"] == "000_40a999470f34a1c1#1"
    # Linux caps one argument at 128 KiB, so the long question is ASCII here (Chinese via --questions below)
    for args in (["   "], ["q" * 100_000]):
        bad = subprocess.run([*run, *args], capture_output=True, text=True, timeout=300, check=False)
        assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
    missing = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--index", str(tmp_path / "none"), "问题"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1 and "no index" in missing.stderr


@pytest.mark.slow
def test_cli_questions_file_answers_each_line_and_reports_bad_ones(sample_index, tmp_path):
    lines = [{"question": "峰会在哪里举行？"}, {"question": "问" * 100_000}, "not json"]
    path = tmp_path / "q.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) if isinstance(x, dict) else x for x in lines),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--index", str(sample_index), "--questions", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 3
    assert out[0]["passages"] and "error" in out[1] and "error" in out[2]


def test_the_background_is_measured_once_per_generation_and_kept_in_it(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    """Asking the built-in off-topic questions of a cold ten-million-chunk index took most of a
    minute of its load: their medians are kept beside the index's files for the next load."""
    import qa.bot
    from index.store import live_generation
    from qa.abstain import BACKGROUND_CACHE

    root = tmp_path / "idx"
    build_index(sample_corpus, root, embedder=fake_embedder, progress=False)
    measured: list[int] = []
    real = qa.bot.measure_background
    monkeypatch.setattr(qa.bot, "measure_background", lambda *a: measured.append(1) or real(*a))
    first = load_bot(root, embedder=fake_embedder, progress=False).background
    kept = live_generation(root) / BACKGROUND_CACHE
    assert measured == [1] and kept.is_file()
    assert load_bot(root, embedder=fake_embedder, progress=False).background == first
    assert measured == [1]  # read, not measured
    load_bot(root, embedder=fake_embedder, progress=False, overrides={"keyword_weight": 0.0})
    assert measured == [1, 1]  # other settings: other medians
    kept.write_text("{not json", encoding="utf-8")
    assert load_bot(root, embedder=fake_embedder, progress=False).background == first
    assert (
        measured == [1, 1, 1]
        and json.loads(kept.read_text(encoding="utf-8"))["background"] == first.to_dict()
    )


def test_the_byline_answers_who_wrote_the_article_but_not_what_its_author_thinks(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "---\ntitle: 丝路新篇\nsource: 示例日报\ndate: 2025年7月1日\nauthor: 李明\n---\n\n# 丝路新篇\n\n"
        "作者在文中写道，中欧班列已成为连接亚欧的重要物流通道。今年前五个月开行一万多列。\n\n"
        "文章认为，互联互通的关键在于基础设施建设和规则标准对接。\n",
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "idx", embedder=fake_embedder, progress=False)
    bot = load_bot(tmp_path / "idx", embedder=fake_embedder)
    byline = bot.ask("这篇文章的作者是谁？")
    assert not byline.abstained and "李明" in byline.answer
    assert byline.passages[0].kind == "metadata"
    opinion = bot.ask("作者认为互联互通的关键在于什么？")
    assert all(p.kind == "text" for p in opinion.passages)
    assert opinion.answer is None or "李明" not in opinion.answer
    assert any("基础设施建设" in p.text for p in opinion.passages)


STORY = (
    "国家统计局今天发布数据，今年上半年全国粮食总产量达到一亿五千万吨，同比增长百分之二。"
    "夏粮主产区小麦收获基本结束，各地抓紧秋粮播种。"
)


def _reprints(tmp_path, embedder, papers: dict[str, str | None]):
    """A bot over STORY as each paper printed it (on its date, if any) and two other articles."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, (paper, date) in enumerate(papers.items()):
        text = STORY if i % 2 else STORY.replace("，同比", "，\n同比")  # wrapped at another place
        dated = f"date: {date}\n" if date else ""
        (corpus / f"r{i}.md").write_text(
            f"---\ntitle: 上半年粮食总产量公布\nsource: {paper}\n{dated}---\n\n{text}\n", encoding="utf-8"
        )
    (corpus / "yield.md").write_text(
        "# 单产\n\n今年粮食总产量增加，主要来自单产提高，良种推广功不可没。\n", encoding="utf-8"
    )
    (corpus / "autumn.md").write_text(
        "# 秋粮\n\n专家认为，今年秋粮生产仍面临高温干旱的考验。\n", encoding="utf-8"
    )
    build_index(corpus, tmp_path / "idx", embedder=embedder, progress=False)
    return load_bot(tmp_path / "idx", embedder=embedder)


def test_a_story_reprinted_by_several_papers_is_shown_once(tmp_path, fake_embedder):
    bot = _reprints(
        tmp_path, fake_embedder, dict.fromkeys(["甲报", "乙报", "丙报", "丁报", "戊报"], "2025年7月1日")
    )
    answer = bot.ask("今年上半年全国粮食总产量达到多少？", top_k=3)
    texts = [_squash(p.text) for p in answer.passages]
    assert sum("一亿五千万吨" in t for t in texts) == 1, texts
    assert {p.citation.article_id for p in answer.passages} >= {"yield", "autumn"}


def test_the_story_shown_lists_the_other_papers_printing_it_earliest_first(tmp_path, fake_embedder):
    # dates as sources write them: ISO, Chinese (7月10日 after 7月2日), and one paper's unknown
    dates = {
        "甲报": "2025-07-02",
        "乙报": "2025年6月30日",
        "丙报": None,
        "丁报": "2025-07-01",
        "戊报": "2025年7月10日",
    }
    bot = _reprints(tmp_path, fake_embedder, dates)
    answer = bot.ask("今年上半年全国粮食总产量达到多少？", top_k=3)
    [story] = [p for p in answer.passages if "一亿五千万吨" in _squash(p.text)]
    shown = story.citation.source
    others = [paper for paper in ("乙报", "丁报", "甲报", "戊报", "丙报") if paper != shown]
    assert [(c.source, c.date) for c in story.also_in] == [(paper, dates[paper]) for paper in others]
    assert story.also_in_total == 4
    for cited in story.also_in:  # each cites its own copy of the story
        assert _squash(bot.index.articles[cited.article_id].text[cited.start : cited.end]) == _squash(STORY)
    assert [p.also_in for p in answer.passages if p is not story] == [(), ()], "no copies, nothing listed"
    data = answer.to_dict()["passages"]
    assert all(p["also_in"] == [] and p["also_in_total"] == 0 for p in data if p["rank"] != story.rank)
    [listed] = [p["also_in"] for p in data if p["rank"] == story.rank]
    assert [c["source"] for c in listed] == others
    also = [line for line in render_text(answer).splitlines() if line.startswith("亦见于：")]
    assert len(also) == 1 and [also[0].index(paper) for paper in others] == sorted(
        also[0].index(paper) for paper in others
    ), "`qa ask` prints the line too"


QUOTE = "发言人表示，新建的研发中心将于明年在深圳投入使用。"


def _quoting(tmp_path, embedder):
    """A bot over six stories that differ elsewhere but all quote one line (no copies of one
    text), one story answering the same question in its own words, and two touching on it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    others = ["市政府今天召开发布会", "当地居民对此表示欢迎", "项目总投资约十亿元", "记者从市发改委获悉",
              "该项目已完成环评公示", "周边道路改造同步推进"]  # fmt: skip
    for i, other in enumerate(others):
        (corpus / f"q{i}.md").write_text(
            f"# 研发中心报道{i}\n\n{other}，相关工作正在进行。{QUOTE}\n", encoding="utf-8"
        )
    (corpus / "green.md").write_text("# 绿地\n\n深圳今年新增绿地三百公顷。\n", encoding="utf-8")
    (corpus / "spend.md").write_text("# 投入\n\n全市企业研发投入持续增长。\n", encoding="utf-8")
    (corpus / "own.md").write_text(
        "# 选址\n\n该公司深圳研发中心选址已定，计划明年建成投用，可容纳两千名工程师。\n", encoding="utf-8"
    )
    build_index(corpus, tmp_path / "idx", embedder=embedder, progress=False)
    return load_bot(tmp_path / "idx", embedder=embedder)


def test_a_sentence_quoted_in_many_stories_answers_once_and_other_answers_move_up(tmp_path, fake_embedder):
    bot = _quoting(tmp_path, fake_embedder)
    answer = bot.ask("深圳的研发中心什么时候投入使用？", top_k=3)
    texts = [_squash(p.text) for p in answer.passages]
    assert sum(_squash(QUOTE)[:-1] in t for t in texts) == 1, texts
    assert "own" in {p.citation.article_id for p in answer.passages}, texts
    assert answer.passages[0].citation.article_id.startswith("q"), "the best-ranked quote stays first"


def test_the_chunks_a_search_finds_below_its_first_ones_fill_the_places_of_echoes(tmp_path, fake_embedder):
    bot = _quoting(tmp_path, fake_embedder)
    # fusion keeps 4 candidates a list (the search goes to 8): the quoting stories fill the
    # first 4 of each list, and the story answering in its own words is found below them
    # (without the chunks read from below, all three passages quote the line)
    bot.settings = dataclasses.replace(bot.settings, candidates=4)
    answer = bot.ask("深圳的研发中心什么时候投入使用？", top_k=3)
    texts = [_squash(p.text) for p in answer.passages]
    assert sum(_squash(QUOTE)[:-1] in t for t in texts) == 1, texts
    assert "own" in {p.citation.article_id for p in answer.passages}, texts
