"""The question-answering bot: retrieve, fuse, cite, answer, or abstain."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.config import IndexSettings, RetrievalSettings
from index.documents import Article
from index.embed import Embedder, make_embedder
from index.keyword import KEYWORD_DIR, KeywordIndex
from index.store import LoadedIndex, load_index, read_manifest
from qa.answer import ScoredSentence, best_sentences, score_sentences, split_sentences, token_set
from qa.cite import Answer, Citation, Passage, merge_spans
from qa.fuse import reciprocal_rank_fusion
from qa.retrieve import DenseRetriever

MAX_TOP_K = 50
WARM_SENTENCES = 50_000  # sentences segmented ahead of questions at load (qa.answer's cache holds 200,000)
# A question this short, or opening/closing like a follow-up, is read with the previous one.
_FOLLOW_UP = re.compile(r"^(那|那么|还有|另外|而|它|他们|她们|其)|呢[？?。.！!]*$|^(and|what about|how about)\b", re.I)


class QuestionError(ValueError):
    """A question that cannot be asked as given (empty, too long, bad top_k)."""


@dataclass(frozen=True)
class Candidate:
    """A merged span of one article found by retrieval."""

    article_id: str
    start: int
    end: int
    positions: tuple[int, ...]
    fused: float
    relevance: float


class Bot:
    """Answers questions from one loaded index."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, keyword: KeywordIndex | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings: RetrievalSettings = index.settings.retrieval
        self.keyword = keyword or KeywordIndex.load(index.path(KEYWORD_DIR))
        self.dense = DenseRetriever(index)
        self._background: Background | None = None

    def ask(self, question: str, top_k: int = 5, history: Sequence[str] | None = None) -> Answer:
        """Answer a question with up to `top_k` cited passages.

        Raises:
            QuestionError: empty or over-long question, or top_k out of range.
        """
        question = self.check_question(question, top_k)
        top, texts, scored, ev = self.gather(question, history or [], top_k)
        return self._answer(question, top, texts, scored, ev)

    def check_question(self, question: str, top_k: int) -> str:
        """Normalise and validate the question; raise QuestionError with a clear message."""
        return check_question(question, top_k, self.settings.max_question_chars)

    def _clip(self, text: str) -> str:
        return " ".join(text.split())[: self.settings.max_question_chars]

    def _candidates(self, queries: Sequence[str], vectors: np.ndarray) -> list[tuple[int, float, float]]:
        """Fuse dense and keyword rankings of every query; return (position, fused, cosine)."""
        s = self.settings
        rankings, weights = [], []
        for text, vector in zip(queries, vectors):
            if s.dense_weight > 0:
                rankings.append([h.position for h in self.dense.search(text, vector, s.candidates)])
                weights.append(s.dense_weight)
            if s.keyword_weight > 0:
                rankings.append([p for p, _ in self.keyword.search(text, s.candidates)])
                weights.append(s.keyword_weight)
        fused = reciprocal_rank_fusion(rankings, weights, k=s.rrf_k)[: s.candidates]
        cosines = self._cosines([p for p, _ in fused], vectors)
        return [(p, score, cosines[p]) for p, score in fused]

    def _cosines(self, positions: list[int], vectors: np.ndarray) -> dict[int, float]:
        """Best cosine of each chunk to any of the query vectors."""
        if not positions:
            return {}
        stored = np.stack([self.index.faiss_index.reconstruct(self.index.chunks[p].vid) for p in positions])
        best = (stored @ vectors.T).max(axis=1)
        return {p: float(c) for p, c in zip(positions, best)}

    def gather(
        self, question: str, history: Sequence[str], top_k: int, vectors: np.ndarray | None = None
    ) -> tuple[list[Candidate], list[str], list[ScoredSentence], Evidence]:
        """Retrieve and score: everything `ask` decides on (also used by calibration).

        `vectors` may carry the query embeddings when the caller embedded many at once.
        """
        queries = contextual_queries(question, [self._clip(h) for h in history if h and h.strip()])
        if vectors is None or len(vectors) != len(queries):
            vectors = self.embedder.embed_queries(queries)
        top = merge_candidates(self._candidates(queries, vectors), self.index, top_k)
        texts = [self.index.articles[c.article_id].text[c.start : c.end] for c in top]
        contexts = [self._context(c) for c in top]
        scored = score_sentences(" ".join(queries), texts, [c.relevance for c in top], self.keyword.idf, contexts)
        return top, texts, scored, evidence(question, top, texts, scored)

    def _context(self, candidate: Candidate) -> str:
        """The title (unless made up from the lead) and section a passage stands under."""
        section = self.index.chunks[candidate.positions[0]].chunk.section
        return self._context_of(self.index.articles[candidate.article_id], section)

    @staticmethod
    def _context_of(article: Article, section: str | None) -> str:
        title = article.title if article.title_from != "lead" else ""
        return f"{title} {section or ''}".strip()

    def warm_sentence_tokens(self, limit: int = WARM_SENTENCES) -> int:
        """Segment the corpus's sentences and passage contexts into the answer scorer's cache
        (`qa.answer.token_set`), up to `limit` of them; return how many.

        load_bot runs this in a background thread: the first question about a sentence then
        costs no segmentation (about 9 ms of a 30 ms `ask` on the sample corpus). A corpus of
        up to about `limit` sentences is covered whole (3,300 sentences take 0.5 s).
        """
        done = 0
        for article in self.index.articles.values():
            texts = [self._context_of(article, section.heading) for section in article.sections]
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
            self._background = measure_background(self)
        return self._background

    def _answer(self, question: str, top: list[Candidate], texts: list[str], scored: list[ScoredSentence], ev: Evidence) -> Answer:
        chosen = best_sentences(scored)
        p_answerable = abstain_probability(rule_inputs(ev, self.background), self.settings)
        abstained = p_answerable < self.settings.abstain_threshold
        answer = None if abstained or not chosen else "".join(texts[s.passage][s.span[0] : s.span[1]] for s in chosen)
        highlights = highlight_spans(scored, chosen, len(top)) if not abstained else [() for _ in top]
        passages = tuple(
            Passage(i + 1, texts[i], c.relevance, highlights[i], self._citation(c)) for i, c in enumerate(top)
        )
        return Answer(question, answer, abstained, passages)

    def _citation(self, candidate: Candidate) -> Citation:
        article = self.index.articles[candidate.article_id]
        first = self.index.chunks[min(candidate.positions)].chunk
        return Citation.of(first, article, candidate.start, candidate.end)


def check_question(question: str, top_k: int = 5, max_chars: int = RetrievalSettings.max_question_chars) -> str:
    """Normalise and validate a question; raise QuestionError with a one-line message."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("问题为空：请输入一个问题。(The question is empty.)")
    if len(question) > max_chars:
        raise QuestionError(f"问题太长（{len(question)} 字），请控制在 {max_chars} 字以内。(The question is longer than {max_chars} characters.)")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise QuestionError(f"top_k={top_k!r} must be an integer from 1 to {MAX_TOP_K}")
    return " ".join(question.split())


def contextual_queries(question: str, history: Sequence[str]) -> list[str]:
    """The question, plus the question read with the previous one when it is a follow-up."""
    if history and (len(question) <= 12 or _FOLLOW_UP.search(question)):
        return [question, f"{history[-1]} {question}"]
    return [question]


def merge_candidates(
    candidates: Sequence[tuple[int, float, float]], index: LoadedIndex, top_k: int, max_chars: int = 700
) -> list[Candidate]:
    """Merge overlapping chunks of the same article into one passage, keeping fused order.

    A chunk that overlaps a passage already chosen is merged into it, or dropped when the
    merged passage would exceed `max_chars`; it is never returned twice.
    """
    merged: list[Candidate] = []
    for position, fused, cosine in candidates:
        chunk = index.chunks[position].chunk
        for i, other in enumerate(merged):
            if other.article_id == chunk.article_id and chunk.start < other.end and other.start < chunk.end:
                if max(other.end, chunk.end) - min(other.start, chunk.start) > max_chars:
                    break  # merging would make an unreadably long passage: drop the lower-ranked chunk
                merged[i] = Candidate(
                    other.article_id,
                    min(other.start, chunk.start),
                    max(other.end, chunk.end),
                    (*other.positions, position),
                    other.fused,
                    max(other.relevance, cosine),
                )
                break
        else:
            if len(merged) >= top_k:
                continue
            merged.append(Candidate(chunk.article_id, chunk.start, chunk.end, (position,), fused, cosine))
    return merged


@dataclass(frozen=True)
class Evidence:
    """What the abstention rule weighs for one question."""

    cosine: float  # best cosine of a returned passage
    coverage: float  # best keyword coverage of the question by one sentence
    mismatch: float  # 1 when the question's script differs from the passage's (English on Chinese)
    script: str  # "latin" or "cjk": which background the question is compared with


@dataclass(frozen=True)
class Background:
    """Typical evidence for off-topic questions on this index, per script (medians).

    Cosines depend on the corpus (a broad corpus matches anything better), so the rule
    compares a question's evidence with what questions the corpus cannot answer get.
    """

    cosine: dict[str, float]
    coverage: dict[str, float]

    def to_dict(self) -> dict:
        return {"cosine": self.cosine, "coverage": self.coverage}


def evidence(question: str, top: Sequence[Candidate], texts: Sequence[str], scored: Sequence[ScoredSentence]) -> Evidence:
    """Collect the evidence for a question from its returned passages."""
    script = "latin" if latin_share(question) >= 0.5 else "cjk"
    if not top:
        return Evidence(0.0, 0.0, 0.0, script)
    cosine = max(c.relevance for c in top)
    coverage = max((s.coverage for s in scored), default=0.0)
    mismatch = abs(latin_share(question) - latin_share(texts[0]))
    return Evidence(cosine, coverage, mismatch, script)


def rule_inputs(ev: Evidence, background: Background) -> tuple[float, float, float, float]:
    """The rule's inputs: cosine above background (same-script and cross-script apart),
    coverage above background, and the script mismatch."""
    above = ev.cosine - background.cosine.get(ev.script, 0.0)
    coverage = ev.coverage - background.coverage.get(ev.script, 0.0)
    same = 1 - ev.mismatch  # keyword overlap means nothing across scripts
    return (above * same, above * ev.mismatch, coverage * same, ev.mismatch)


def latin_share(text: str) -> float:
    """Share of letters in the text that are Latin (0 for Chinese, 1 for English)."""
    letters = [c for c in text if c.isalpha()]
    return sum(c.isascii() for c in letters) / len(letters) if letters else 0.0


def abstain_probability(values: Sequence[float], settings: RetrievalSettings) -> float:
    """Logistic estimate that the passages answer the question (weights from calibration)."""
    bias, *weights = settings.abstain_weights
    z = bias + sum(w * f for w, f in zip(weights, values))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def highlight_spans(scored: Sequence[ScoredSentence], chosen: Sequence[ScoredSentence], n: int) -> list[tuple]:
    """Highlights per passage: the answer sentences, and elsewhere each passage's own best
    sentence when it covers at least half as much of the question as the answer does."""
    spans: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for s in chosen:
        spans[s.passage].append(s.span)
    floor = 0.5 * max((s.coverage for s in chosen), default=1.0)
    for i in range(n):
        own = [s for s in scored if s.passage == i]
        if not spans[i] and own:
            best = max(own, key=lambda s: s.score)
            if best.coverage >= floor and best.coverage > 0:
                spans[i].append(best.span)
    return [merge_spans(s) for s in spans]


def load_bot(index_dir: Path | str | None = None, embedder: Embedder | None = None, progress: bool = True) -> Bot:
    """Load a bot over `index_dir`, or over the built-in sample index (built on first use).

    Raises:
        index.store.IndexNotFoundError, IndexCorruptError, IndexMismatchError, EmbedderError.
    """
    if index_dir is None:
        from index.sample import ensure_sample_index

        index_dir = ensure_sample_index(progress=progress)
    index_dir = Path(index_dir)
    settings = IndexSettings.from_dict(read_manifest(index_dir)["settings"])
    embedder = embedder or make_embedder(settings.embed, progress=progress)
    index = load_index(index_dir, embedder.model_id, embedder.fingerprint)
    bot = Bot(index, embedder)
    _ = bot.background  # measured now (about a second), not on the first reader's question
    threading.Thread(target=bot.warm_sentence_tokens, name="warm-sentence-tokens", daemon=True).start()
    return bot


BACKGROUND_QUESTIONS = Path(__file__).resolve().parent / "data" / "background_questions.jsonl"


def measure_background(bot: Bot, path: Path = BACKGROUND_QUESTIONS) -> Background:
    """Ask the built-in off-topic questions and take per-script medians of their evidence."""
    import json

    with path.open(encoding="utf-8") as handle:
        questions = [json.loads(line)["question"] for line in handle if line.strip()]
    by_script: dict[str, list[Evidence]] = {}
    vectors = bot.embedder.embed_queries(questions)  # one model call: this runs at start-up
    for question, vector in zip(questions, vectors):
        ev = bot.gather(question, [], 5, vector[None, :])[3]
        by_script.setdefault(ev.script, []).append(ev)
    return Background(
        cosine={k: float(np.median([e.cosine for e in v])) for k, v in by_script.items()},
        coverage={k: float(np.median([e.coverage for e in v])) for k, v in by_script.items()},
    )
