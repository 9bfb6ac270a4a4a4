"""Sentence splitting and answer-sentence choice."""

from __future__ import annotations

from index.text import split_sentences
from qa.answer import best_sentences, question_tokens, question_words, score_sentences


def test_sentences_keep_closing_quotes():
    text = "他说：“历史不能倒退。”随后离开了。最后一句没有句号"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["他说：“历史不能倒退。”", "随后离开了。", "最后一句没有句号"]


def test_a_questions_words_are_its_keyword_tokens_without_the_bigrams():
    for question in ["深圳的研发中心什么时候投入使用？", "哪些地方种植黄蝉？", "When was ＮＡＴＯ founded?"]:
        tokens = question_tokens(question)
        assert question_words(question) == [t for t in tokens if not t.startswith("#")], tokens
    assert {"深圳", "研发", "中心"} <= set(question_words("深圳的研发中心什么时候投入使用？"))
    assert question_words("When was ＮＡＴＯ founded?") == ["nato", "founded"]


def test_the_sentence_covering_the_question_wins():
    passage = (
        "峰会在阿斯塔纳举行。2024年，中国与中亚五国的贸易额达到948亿美元，再创历史新高。双方签署了多项文件。"
    )
    scored = score_sentences("2024年中国与中亚五国的贸易额达到多少？", [passage], [0.8], lambda t: 1.0)
    [best] = best_sentences(scored)
    assert "948亿美元" in passage[best.span[0] : best.span[1]]


def test_between_sentences_the_title_covers_alike_the_one_sharing_the_questions_words_wins():
    # the title names the fish for every sentence, so keyword coverage ties; the answer is
    # the sentence holding what is asked beyond the title (体, 色), not the lead
    passage = "黄鳍紫鱼，又称黄鳍姬鲷，为辐鳍鱼纲鲈形目笛鲷科的其中一个种。体呈淡蓝红色，头部有网状斑点。栖息于岩礁区。"
    question = "黄鳍紫鱼的身体是什么颜色的？"
    scored = score_sentences(question, [passage], [0.8], lambda t: 1.0, contexts=["黄鳍紫鱼"])
    [best] = best_sentences(scored)
    assert passage[best.span[0] : best.span[1]].startswith("体呈淡蓝红色")
    lead = next(s for s in scored if s.span[0] == 0)
    assert lead.coverage == best.coverage  # the tie the shared characters break
    # the same passage in traditional characters (體, 藍), asked in simplified: the same answer
    traditional = "黃鰭紫魚，又稱黃鰭姬鯛，為輻鰭魚綱鱸形目笛鯛科的其中一個種。體呈淡藍紅色，頭部有網狀斑點。棲息於岩礁區。"
    scored = score_sentences(question, [traditional], [0.8], lambda t: 1.0, contexts=["黃鰭紫魚"])
    [twin] = best_sentences(scored)
    assert traditional[twin.span[0] : twin.span[1]].startswith("體呈淡藍紅色")
    assert twin.overlap == best.overlap > 0  # 體 is 体: characters are compared folded
