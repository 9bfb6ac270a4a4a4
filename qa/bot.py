"""The question-answering pipeline: retrieve, fuse, merge, answer, abstain, cite."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.documents import Article
from index.embed import Embedder, make_embedder
from index.settings import IndexSettings
from index.store import LoadedIndex, load_index, read_manifest
from index.store.keyword import KEYWORD_DIR, KeywordIndex
from index.text import split_sentences
from qa.abstain import Background, Evidence, answerable_probability, evidence, measure_background, rule_inputs
from qa.answer import ScoredSentence, best_sentences, highlight_spans, score_sentences, token_set
from qa.cite import Answer, Citation, Passage
from qa.fuse import reciprocal_rank_fusion
from qa.passages import Candidate, Ranked, merge_candidates
from qa.question import check_question, clip, contextual_queries
from qa.retrieve import DenseRetriever, KeywordRetriever, Retriever, make_retrievers
from qa.settings import RetrievalSettings

WARM_SENTENCES = 50_000  # sentences segmented ahead of questions at load (qa.answer's cache holds 200,000)


@dataclass(frozen=True)
class Gathered:
    """Everything `ask` decides on for one question (also what calibration fits on)."""

    queries: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    texts: tuple[str, ...]
    sentences: tuple[ScoredSentence, ...]
    evidence: Evidence


class Bot:
    """Answers questions from one loaded index."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        settings: RetrievalSettings | None = None,
        keyword: KeywordIndex | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings.from_dict(index.settings.retrieval)
        self.keyword = keyword or KeywordIndex.load(index.path(KEYWORD_DIR))
        self.dense = DenseRetriever(index)
        self.retrievers: list[tuple[Retriever, float]] = make_retrievers(
            index, self.dense, KeywordRetriever(self.keyword), self.settings
        )
        self._background: Background | None = None

    def ask(
        self, question: str, top_k: int = 5, history: Sequence[str] | None = None, trace: bool = False
    ) -> Answer:
        """Answer a question with up to `top_k` cited passages.

        With `trace`, the answer carries the seconds each step took (`Answer.trace`).

        Raises:
            QuestionError: empty or over-long question, or top_k out of range.
        """
        steps: dict[str, float] | None = {} if trace else None
        question = self.check_question(question, top_k)
        found = self.gather(question, history or [], top_k, steps=steps)
        started = time.perf_counter()
        answer = self._answer(question, found)
        if steps is not None:
            steps["answer"] = time.perf_counter() - started
            answer = replace(answer, trace=steps)
        return answer

    def check_question(self, question: str, top_k: int) -> str:
        """Normalise and validate the question; raise QuestionError with a clear message."""
        return check_question(question, top_k, self.settings.max_question_chars)

    def gather(
        self,
        question: str,
        history: Sequence[str],
        top_k: int,
        vectors: np.ndarray | None = None,
        steps: dict[str, float] | None = None,
    ) -> Gathered:
        """Retrieve and score: everything `ask` decides on (also used by calibration).

        `vectors` may carry the query embeddings when the caller embedded many at once;
        `steps`, when given, receives the seconds of each step.
        """
        clock = _Clock(steps)
        earlier = [clip(h, self.settings.max_question_chars) for h in history if h and h.strip()]
        queries = contextual_queries(question, earlier)
        if vectors is None or len(vectors) != len(queries):
            vectors = self.embedder.embed_queries(queries)
        clock.lap("embed")
        ranked = self._ranked(queries, vectors)
        clock.lap("retrieve")
        top = merge_candidates(ranked, self.index, top_k)
        texts = [self.index.articles[c.article_id].text[c.start : c.end] for c in top]
        clock.lap("merge")
        contexts = [self._context(c) for c in top]
        scored = score_sentences(
            " ".join(queries), texts, [c.relevance for c in top], self.keyword.idf, contexts
        )
        ev = evidence(question, top, texts, scored)
        clock.lap("score")
        return Gathered(tuple(queries), tuple(top), tuple(texts), tuple(scored), ev)

    def _ranked(self, queries: Sequence[str], vectors: np.ndarray) -> list[Ranked]:
        """Fuse every retriever's ranking of every query; attach each chunk's best cosine."""
        s = self.settings
        rankings, weights = [], []
        for text, vector in zip(queries, vectors):
            for retriever, weight in self.retrievers:
                rankings.append([h.position for h in retriever.search(text, vector, s.candidates)])
                weights.append(weight)
        fused = reciprocal_rank_fusion(rankings, weights, k=s.rrf_k)[: s.candidates]
        cosines = self.dense.cosines([p for p, _ in fused], vectors)
        return [Ranked(p, score, cosines[p]) for p, score in fused]

    def _context(self, candidate: Candidate) -> str:
        """The title (unless made up from the lead) and section a passage stands under."""
        section = self.index.chunks[candidate.positions[0]].chunk.section
        return passage_context(self.index.articles[candidate.article_id], section)

    def warm_sentence_tokens(self, limit: int = WARM_SENTENCES) -> int:
        """Segment the corpus's sentences and passage contexts into the answer scorer's cache
        (`qa.answer.token_set`), up to `limit` of them; return how many.

        load_bot runs this in a background thread: the first question about a sentence then
        costs no segmentation (about 9 ms of a 30 ms `ask` on the sample corpus). A corpus of
        up to about `limit` sentences is covered whole (3,300 sentences take 0.5 s).
        """
        done = 0
        for article in self.index.articles.values():
            texts = [passage_context(article, section.heading) for section in article.sections]
            texts += [article.text[start:end] for start, end in split_sentences(article.text)]
            for text in texts:
                if done >= limit:
                    return done
                token_set(text)
                done += 1
        return done

    @property
    def background(self) -> Background:
        """Evidence medians of the built-in off-topic questions on this index (measured once)."""
        if self._background is None:
            self._background = measure_background(
                lambda question, vector: self.gather(question, [], 5, vector).evidence,
                self.embedder.embed_queries,
            )
        return self._background

    def rule_inputs(self, found: Gathered) -> tuple[float, ...]:
        """The abstention rule's inputs for gathered evidence, against this index's background."""
        return rule_inputs(found.evidence, self.background)

    def _answer(self, question: str, found: Gathered) -> Answer:
        top, texts = found.candidates, found.texts
        chosen = best_sentences(found.sentences)
        p_answerable = float(answerable_probability(self.settings.abstain_weights, self.rule_inputs(found)))
        abstained = p_answerable < self.settings.abstain_threshold
        answer = (
            None
            if abstained or not chosen
            else "".join(texts[s.passage][s.span[0] : s.span[1]] for s in chosen)
        )
        highlights = (
            highlight_spans(found.sentences, chosen, len(top)) if not abstained else [() for _ in top]
        )
        passages = tuple(
            Passage(i + 1, texts[i], c.relevance, highlights[i], self._citation(c)) for i, c in enumerate(top)
        )
        return Answer(question, answer, abstained, passages)

    def _citation(self, candidate: Candidate) -> Citation:
        article = self.index.articles[candidate.article_id]
        first = self.index.chunks[min(candidate.positions)].chunk
        return Citation.of(first, article, candidate.start, candidate.end)


def passage_context(article: Article, section: str | None) -> str:
    """The title (unless made up from the lead) and section a passage stands under."""
    title = article.title if article.title_from != "lead" else ""
    return f"{title} {section or ''}".strip()


class _Clock:
    """Records the seconds between laps into `steps` (a no-op when `steps` is None)."""

    def __init__(self, steps: dict[str, float] | None) -> None:
        self.steps = steps
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.steps is not None:
            now = time.perf_counter()
            self.steps[name] = now - self.last
            self.last = now


def load_bot(
    index_dir: Path | str | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> Bot:
    """Load a bot over `index_dir`, or over the built-in sample index (built on first use).

    `embedder` replaces the one the index names (it must be the same model); `overrides`
    replaces retrieval settings for this bot only (e.g. `{"keyword_weight": 0}`).

    Raises:
        index.errors.IndexNotFoundError, IndexCorruptError, IndexMismatchError, EmbedderError.
    """
    if index_dir is None:
        from index.sample import ensure_sample_index

        index_dir = ensure_sample_index(progress=progress)
    index_dir = Path(index_dir)
    settings = IndexSettings.from_dict(read_manifest(index_dir)["settings"])
    embedder = embedder or make_embedder(settings.embed, progress=progress)
    index = load_index(index_dir, embedder.model_id, embedder.fingerprint)
    retrieval = RetrievalSettings.from_dict(index.settings.retrieval)
    bot = Bot(index, embedder, replace(retrieval, **overrides) if overrides else retrieval)
    _ = bot.background  # measured now (about a second), not on the first reader's question
    threading.Thread(target=bot.warm_sentence_tokens, name="warm-sentence-tokens", daemon=True).start()
    return bot
