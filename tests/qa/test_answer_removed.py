"""eval/make_answer_removed.py: a near-domain unanswerable set made by removing answer sentences."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "make_answer_removed.py"


def _module():
    spec = importlib.util.spec_from_file_location("make_answer_removed", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_answer_sentences_go_and_only_questions_left_without_an_answer_are_kept(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    passages = [
        {
            "id": "P1",
            "title": "蒋巨峰",
            "text": "蒋巨峰，浙江诸暨人。1981年7月参加工作。2013年辞去省长职务。",
        },
        {"id": "P2", "title": "赛里木湖", "text": "湖面海拔2071.9米。东西长30公里，南北宽25公里。"},
    ]
    questions = [
        {"qid": "Q1", "question": "蒋巨峰哪一年参加工作？", "answers": ["1981年"], "gold_passage_id": "P1"},
        {"qid": "Q2", "question": "蒋巨峰是哪里人？", "answers": ["浙江诸暨"], "gold_passage_id": "P1"},
        {"qid": "Q3", "question": "湖东西长多少？", "answers": ["30 公里"], "gold_passage_id": "P2"},
        {"qid": "Q4", "question": "这个湖叫什么？", "answers": ["赛里木湖"], "gold_passage_id": "P2"},
    ]
    for name, rows in (("passages.jsonl", passages), ("questions.jsonl", questions)):
        (src / name).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    module = _module()
    assert module.main(["--src", str(src), "--out", str(tmp_path / "out")]) == 0
    out = [
        json.loads(line)
        for line in (tmp_path / "out" / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert out[0]["text"] == "2013年辞去省长职务。" and out[0]["title"] == "蒋巨峰"
    assert out[1]["text"] == "湖面海拔2071.9米。"  # "30 公里" matched without its space
    left = [
        json.loads(line)
        for line in (tmp_path / "out" / "unanswerable.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    # Q4's answer is the passage's title: still stated, so not an unanswerable question
    assert [(q["id"], q["answers"], q["type"]) for q in left] == [
        ("Q1", [], "unanswerable"),
        ("Q2", [], "unanswerable"),
        ("Q3", [], "unanswerable"),
    ]
    assert "CC-BY-SA-4.0" in (tmp_path / "out" / "README.txt").read_text(encoding="utf-8")
    assert module.main(["--src", str(tmp_path / "missing")]) == 2
