"""The question-answering pipeline: retrieve, fuse, merge, answer, abstain, cite."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from index.documents import Article
from index.embed import Embedder, make_embedder
from index.settings import IndexSettings
from index.store import LoadedIndex, load_index, read_manifest
from index.store.keyword import KEYWORD_DIR, KeywordIndex
from index.text import latin_share, simplified, split_sentences
from qa.abstain import (
    ENGLISH_ABSENT_SHARE,
    AnswerCheck,
    Background,
    Evidence,
    answerable_probability,
    background_key,
    evidence,
    keep_background,
    measure_background,
    read_background,
    rule_inputs,
)
from qa.answer import (
    ScoredSentence,
    best_sentences,
    highlight_spans,
    question_words,
    score_sentences,
    token_set,
)
from qa.cite import Answer, Citation, Passage, Span, other_printings
from qa.expect import expected_kind, sure
from qa.fuse import keep_leaders, reciprocal_rank_fusion
from qa.lexicon import LexiconUnavailableError, TranslatedTerm, keyword_query, translate, translated_terms
from qa.passages import ECHO_DEPTH, Candidate, Ranked, collapse_copies, demote_echoes, merge_candidates
from qa.provenance import Field, asked_field, provenance_line
from qa.question import check_question, clip, contextual_queries, elliptical, refers_back
from qa.retrieve import POOL_THREADS, DenseRetriever, KeywordRetriever, Retriever, Searches, make_retrievers
from qa.settings import RetrievalSettings
from qa.terms import SMALL_TALK, Term, follow_up_terms, known, named, question_terms

# An English question most of whose own words the corpus holds is read as written (Bot._in_own_words)
OWN_WORDS = 0.5
LATIN_SAMPLE = 200  # chunks read to tell a corpus in Latin script (Bot.latin_corpus)
AGREE_DEPTH = 5  # dense and keyword search agree when both rank a chunk of the answer passage this high
# Each retriever's best hit is kept among this many first fused chunks (qa.fuse.keep_leaders): at
# a million chunks, fusion otherwise dropped it from the top 5 for 1.6 % of the questions
LEADERS_WITHIN = 5
log = logging.getLogger("wenda.qa")
WARM_SENTENCES = 50_000  # sentences segmented ahead of questions at load (qa.answer's cache holds 200,000)
_BIG_NUMBER = re.compile(r"\d{3,}")  # a year or another number an English question pins down


@dataclass(frozen=True)
class Gathered:
    """Everything `ask` decides on for one question (also what calibration fits on)."""

    queries: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    texts: tuple[str, ...]
    sentences: tuple[ScoredSentence, ...]
    chosen: tuple[ScoredSentence, ...]  # the answer sentence(s)
    evidence: Evidence
    copies: Mapping[int, tuple[int, ...]]  # the other copies of a chunk's text (qa.passages.Collapsed)


@dataclass(frozen=True)
class Reading:
    """One text a question is read as: its terms, and what keyword search and sentence
    scoring are given (an English question's Chinese renderings)."""

    text: str
    terms: list[Term]
    keyword: str  # the text keyword search is given
    scoring: str  # the text answer sentences are scored against
    bridged: bool = False  # an English question read through its Chinese renderings


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
        self._warned_lexicon = False

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

        A follow-up is read both alone and with the previous question, and the reading whose
        answer is better supported wins, so an off-topic follow-up ("那明天会下雨吗？") is judged
        on its own; one that only names what changes ("那吉尔吉斯斯坦呢？") is read with the
        previous question only. `vectors` may carry the query
        embeddings when the caller embedded many at once; `steps`, when given, receives the
        seconds of each step.
        """
        clock = _Clock(steps)
        # read in simplified characters: a traditional question is asked as its simplified twin
        question = simplified(question)
        earlier = [simplified(clip(h, self.settings.max_question_chars)) for h in history if h and h.strip()]
        queries = contextual_queries(question, earlier)
        readings = [self._read(q) for q in queries]
        given = vectors if vectors is not None and len(vectors) == len(queries) else None
        # keyword search starts now, beside the embedding, when the embedding leaves a core free;
        # else once the question is embedded, beside the dense search (qa.retrieve.Searches)
        searches = Searches(
            self.retrievers,
            [r.keyword for r in readings],
            self.settings.candidates * ECHO_DEPTH,  # room for the chunks below echoes (qa.passages)
            start=given is not None or self._leaves_a_core(),
        )
        try:
            vectors = self.embedder.embed_queries(queries) if given is None else given
            searches.start()
            clock.lap("embed")
            own = readings[0].terms
            if len(queries) == 1:
                return self._reading(question, readings, vectors, own, top_k, searches, clock)
            terms = follow_up_terms(own, self._read(earlier[-1]).terms)
            if elliptical(question):  # "那2023年呢？" asks nothing on its own
                return self._reading(question, readings, vectors, terms, top_k, searches, clock)
            found = self._reading(question, readings[:1], vectors[:1], own, top_k, searches, clock)
            if found.evidence.absent > 0 and found.evidence.script == "cjk" and not refers_back(question):
                # it opens like a follow-up ("那…") but asks, without pointing back, about something
                # the articles never mention (明天, 下雨): what the previous question found does not
                # answer it, so that reading is not gathered at all
                return found
            combined = self._reading(question, readings, vectors, terms, top_k, searches, clock)
            return combined if self.answerable(combined) >= self.answerable(found) else found
        finally:
            searches.close()

    def _in_own_words(self, terms: Sequence[Term]) -> bool:
        """Whether the corpus holds most (OWN_WORDS) of the terms an English question names, so
        that on a corpus in Latin script it is searched and checked as written, as a Chinese
        question is on a Chinese corpus, rather than through Chinese renderings."""
        naming = named(terms)
        held = sum(known(t, self.keyword.knows) for t in naming)
        return bool(naming) and held >= OWN_WORDS * len(naming)

    @cached_property
    def latin_corpus(self) -> bool:
        """Whether the corpus is written mostly in Latin script (a corpus of English articles),
        judged on up to LATIN_SAMPLE chunks spread evenly over it; read once, in load_bot's
        background thread. A Chinese corpus that holds names in Latin letters (Port Elizabeth
        Airport, JAXR on the CMRC passages) is not one: a question's other words still need
        their renderings there."""
        count = len(self.index.chunks)
        if not count:
            return False
        positions = sorted({i * count // LATIN_SAMPLE for i in range(min(count, LATIN_SAMPLE))})
        texts = [stored.chunk.text for stored in self.index.chunks.at(positions)]
        return latin_share("".join(texts)) >= 0.5

    def _leaves_a_core(self) -> bool:
        """Whether embedding a question leaves a core free for a search beside it: the int8
        backend's one thread does; torch's two on two cores do not, and a keyword search run
        beside them made `ask` slower at 1M (bench/RESULTS.md)."""
        threads = getattr(self.embedder, "query_threads", None)
        return threads is not None and threads < POOL_THREADS

    def _read(self, text: str) -> Reading:
        """A question's terms and its keyword texts; an English one's rendered in Chinese
        through the corpus's words (qa.lexicon), since keyword evidence over a Chinese corpus
        means nothing in English (unless the corpus is in Latin script and holds most of the
        question's own words)."""
        if latin_share(text) >= 0.5 and self.latin_corpus:
            own = question_terms(text)
            if self._in_own_words(own):
                return Reading(text, own, text, text)
        translated = self._translate(text) or []
        if all(t.text.lower() in SMALL_TALK for t in translated):
            translated = []  # "hi", "thanks", "ok": their renderings would name something
        terms = translated_terms(translated)
        if not terms:  # Chinese, or English with no word the dictionary renders
            return Reading(text, question_terms(text), text, text)
        # sentences are scored on every term, the ones the corpus lacks too (in English, so
        # they never match): a sentence covering "Turkmenistan" does not cover "capital of"
        lacking = [t.text for t in translated if t.status == "absent"]
        scoring = " ".join([keyword_query(translated, per_term=1), *lacking]).strip()
        return Reading(text, terms, keyword_query(translated) or text, scoring or text, bridged=True)

    def _translate(self, text: str) -> list[TranslatedTerm] | None:
        if latin_share(text) < 0.5:
            return None
        try:
            return translate(text, self.keyword.knows)
        except LexiconUnavailableError as exc:  # English questions then rely on dense search
            if not self._warned_lexicon:
                log.warning("%s", exc)
                self._warned_lexicon = True
            return None

    def _reading(
        self,
        question: str,
        readings: Sequence[Reading],
        vectors: np.ndarray,
        terms: Sequence[Term],
        top_k: int,
        searches: Searches,
        clock: _Clock,
    ) -> Gathered:
        """Gather the passages and evidence of one reading of the question (its first
        `len(readings)` readings, searched by `searches`)."""
        queries = [r.text for r in readings]
        ranked, leaders, copies = self._ranked(searches, readings, vectors)
        clock.lap("retrieve")
        top = merge_candidates(ranked, self.index, top_k)
        texts = [self.index.articles[c.article_id].text[c.start : c.end] for c in top]
        clock.lap("merge")
        contexts = [self._context(c) for c in top]
        scored = score_sentences(
            " ".join(r.scoring for r in readings),
            texts,
            [c.relevance for c in top],
            self.keyword.idf,
            contexts,
            asked=question,
        )
        chosen = best_sentences(scored)
        sentence = "".join(texts[s.passage][s.span[0] : s.span[1]] for s in chosen)
        context = token_set(contexts[chosen[0].passage]) if chosen else frozenset()
        tokens = token_set(sentence) | context
        around = token_set(texts[chosen[0].passage]) | context if chosen else frozenset()
        # no absent-name veto for English: capitalised adjectives ("Central Asian") read as names
        check = AnswerCheck.of(question, terms, sentence, tokens, self.keyword, around)
        agree = bool(chosen) and all(set(top[chosen[0].passage].positions) & lead for lead in leaders)
        ev = evidence(question, top, texts, scored, check, agree, bridged=readings[0].bridged)
        clock.lap("score")
        return Gathered(tuple(queries), tuple(top), tuple(texts), tuple(scored), tuple(chosen), ev, copies)

    def _ranked(
        self, searches: Searches, readings: Sequence[Reading], vectors: np.ndarray
    ) -> tuple[list[Ranked], list[set[int]], dict[int, tuple[int, ...]]]:
        """Fuse every retriever's ranking of these readings (the first ones of the question;
        `vectors` from the first on); attach each chunk's best cosine.

        Also returns each retriever's leading chunks for the last query (the fullest reading),
        to tell whether they agree on the answer, and the copies each ranked chunk stands for."""
        s = self.settings
        vectors = vectors[: len(readings)]
        rankings: list[list[int]] = []
        weights: list[float] = []
        keywords: list[dict[str, float]] = []  # each ranking's reading's keywords, by IDF
        matches: list[dict[int, str | None]] = []  # and its chunks' best-matching sentences
        for reading, vector in enumerate(vectors):
            tokens = {t: self.keyword.idf(t) for t in question_words(readings[reading].scoring)}
            matched: dict[int, str | None] = {}
            for number, (_, weight) in enumerate(self.retrievers):
                rankings.append(searches.ranking(number, reading, vector))
                weights.append(weight)
                keywords.append(tokens)
                matches.append(matched)
        # a story other articles reprint takes one rank of a list (qa.passages.collapse_copies),
        # and a chunk answering with the sentence a better one holds moves down the list
        # (demote_echoes): the chunks the search found below the list's first ones fill in
        heads = [ranking[: s.candidates] for ranking in rankings]
        collapsed = collapse_copies(heads, self.index, weights, s.rrf_k)
        chunks = collapsed.chunks  # what is read below is added
        copied = {p for copies in collapsed.copies.values() for p in copies}
        rankings = [
            demote_echoes(
                ranking,
                chunks,
                tokens,
                s.candidates,
                matched,
                deeper=[p for p in whole[s.candidates :] if p not in copied],
                read=self.index.chunks.at,
            )
            for ranking, whole, tokens, matched in zip(collapsed.rankings, rankings, keywords, matches)
        ]
        last = rankings[-len(self.retrievers) :]  # the fullest reading's
        leaders = [set(positions[:AGREE_DEPTH]) for positions in last]
        best = [(weight, positions[:1]) for (_, weight), positions in zip(self.retrievers, last)]
        # the best hit of the most trusted retriever that fusion ranked below the first
        # LEADERS_WITHIN, for the fullest reading, is moved up into them
        firsts = [p for _, top in sorted(best, key=lambda b: -b[0]) for p in top]
        fused = reciprocal_rank_fusion(rankings, weights, k=s.rrf_k)
        # the fused order too: each list keeps the first chunk it ranks of an echoed sentence,
        # and two lists may keep two
        score = dict(fused)
        echoed = demote_echoes([p for p, _ in fused], chunks, keywords[-1], len(fused), matches[-1])
        fused = keep_leaders([(p, score[p]) for p in echoed], firsts, LEADERS_WITHIN)
        fused = fused[: s.candidates]
        cosines = self.dense.cosines([p for p, _ in fused], vectors)
        return [Ranked(p, score, cosines[p]) for p, score in fused], leaders, collapsed.copies

    def _context(self, candidate: Candidate) -> str:
        """The title (unless made up from the lead) and section a passage stands under."""
        section = self.index.chunks[candidate.positions[0]].chunk.section
        return passage_context(self.index.articles[candidate.article_id], section)

    def warm(self) -> None:
        """What load_bot has done in the background, so that no reader's question waits for it:
        tell whether the corpus is in Latin script, and segment its sentences."""
        _ = self.latin_corpus
        self.warm_sentence_tokens()

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
        """Evidence medians of the built-in off-topic questions on this index (measured once
        for each index generation, model, settings and version of the code, and kept in the
        generation's folder, or the cache directory for a read-only one: at ten million
        chunks, asking those questions of a cold index took most of a minute)."""
        if self._background is None:
            key = background_key(
                json.dumps(self.index.manifest.get("files", {}), sort_keys=True),
                self.embedder.model_id,
                str(getattr(self.embedder, "fingerprint", "")),
                json.dumps(self.settings.to_dict(), sort_keys=True),
            )
            background = read_background(self.index.generation, key)
            if background is None:
                background = measure_background(
                    lambda question, vector: self.gather(question, [], 5, vector).evidence,
                    self.embedder.embed_queries,
                )
                keep_background(self.index.generation, key, background)
            self._background = background
        return self._background

    def rule_inputs(self, found: Gathered) -> tuple[float, ...]:
        """The abstention rule's inputs for gathered evidence, against this index's background."""
        return rule_inputs(found.evidence, self.background)

    def vetoes(self, found: Gathered) -> tuple[str, ...]:
        """The terms that make the bot abstain whatever the rule says: names the corpus never
        contains (欧盟 in a corpus about Central Asia); numbers, ordinals and names the
        answer's passage lacks (2023 when it speaks of 2024), in English only numbers of
        three digits or more; in an English question rendered in Chinese, the terms the
        corpus holds no rendering of, when they make up half its weight or more (passport,
        renew, online); an answer sentence without the kind of thing the question asks for
        (a date for when), in English for any kind, in Chinese for a year, a country or a
        physical amount (qa.expect.sure); and a question naming nothing to look for ("什么？",
        "a", "the", an emoji): whatever passages come back were found for nothing in
        particular (a follow-up is read with the question before it, which names something)."""
        ev = found.evidence
        if not ev.asked:
            return ("nothing asked",)
        english = ev.absent_terms if ev.bridged and ev.absent >= ENGLISH_ABSENT_SHARE else ()
        if not english and self._unrendered(ev):
            english = ev.absent_terms
        untyped: tuple[str, ...] = ()
        if not ev.typed:
            # an English question asking when, how many, who or where, whose answer sentence
            # holds no date, number, person or place: across scripts the rule has little else
            # to go on, and such a line is more often wrong than right. In Chinese only a kind
            # whose check is sure: 哪一年 is not answered by a sentence without a year, 哪个国家
            # by one naming no country, 身高是多少 by one without a length
            kind = expected_kind(found.queries[0])
            if ev.script == "latin" or sure(kind, found.queries[0]):
                untyped = (f"no {kind} in the answer",)
        # in English only years and other numbers of three digits or more: "2023" is 2023 in
        # either script, but a name's rendering may not be the article's, nor a small number
        # its numeral ("No. 2 Middle School" is 第二中学)
        unmatched = (
            ev.unmatched if ev.script == "cjk" else tuple(w for w in ev.unmatched if _BIG_NUMBER.fullmatch(w))
        )
        return tuple(dict.fromkeys(ev.absent_names + unmatched + english + untyped))

    def _unrendered(self, ev: Evidence) -> bool:
        """An English question over passages in another script none of whose terms the
        dictionary renders or the corpus holds ("Who is Tokayev?" on a corpus that never names
        him, "lorem ipsum"). Across scripts the fitted rule weighs only rendered terms, so it
        would answer every such question alike. Not when the dictionary could not be read:
        English questions then rely on dense search alone."""
        return (
            ev.script == "latin"
            and not ev.bridged
            and ev.mismatch >= 0.5
            and ev.asked > 0
            and ev.absent >= 1.0  # every term: the same weights summed in the same order
            and not self._warned_lexicon
        )

    def answerable(self, found: Gathered) -> float:
        """The rule's probability that the gathered passages answer the question (0 when vetoed)."""
        if self.vetoes(found):
            return 0.0
        return float(answerable_probability(self.settings.abstain_weights, self.rule_inputs(found)))

    def _answer(self, question: str, found: Gathered) -> Answer:
        top, texts, chosen = found.candidates, found.texts, found.chosen
        if (field := asked_field(simplified(question))) and top:
            return self._provenance_answer(question, found, field)
        # a veto (a name the corpus never contains, a year the passage lacks) decides on its own
        abstained = not chosen or self.answerable(found) < self.settings.abstain_threshold
        if abstained:  # the closest passages, shown as not answering: no highlight, no support
            passages = tuple(self._passage(i + 1, texts[i], c, found) for i, c in enumerate(top))
            return Answer(question, None, True, passages)
        answer = "".join(texts[s.passage][s.span[0] : s.span[1]] for s in chosen)
        highlights = highlight_spans(found.sentences, chosen, len(top))
        holding = {s.passage for s in chosen}
        passages = tuple(
            self._passage(i + 1, texts[i], c, found, highlights[i], supports=i in holding)
            for i, c in enumerate(top)
        )
        return Answer(question, answer, False, passages)

    def _provenance_answer(self, question: str, found: Gathered, field: Field) -> Answer:
        """Answer a question about the top article itself (its source, author or date) from its
        metadata, or abstain when the article does not record it."""
        first = found.candidates[0]
        article = self.index.articles[first.article_id]
        line = provenance_line(article, field)
        rest = tuple(
            self._passage(i + 2, found.texts[i], c, found)
            for i, c in enumerate(found.candidates[: len(found.candidates) - 1])
        )
        if line is None:
            return Answer(question, None, True, tuple(replace(p, rank=p.rank - 1) for p in rest))
        stated = self._passage(1, line, first, found, ((0, len(line)),), supports=True)
        citation = replace(stated.citation, section=None, paragraph=None, start=0, end=0)
        return Answer(question, line, False, (replace(stated, citation=citation, kind="metadata"), *rest))

    def _passage(
        self,
        rank: int,
        text: str,
        candidate: Candidate,
        found: Gathered,
        highlights: tuple[Span, ...] = (),
        supports: bool = False,
    ) -> Passage:
        """A passage of the answer, cited, with the other articles printing its text."""
        also_in, total = other_printings(self._copies(candidate, found), candidate.article_id)
        citation = self._citation(candidate)
        return Passage(
            rank,
            text,
            candidate.relevance,
            highlights,
            citation,
            supports,
            also_in=also_in,
            also_in_total=total,
        )

    def _citation(self, candidate: Candidate) -> Citation:
        article = self.index.articles[candidate.article_id]
        first = self.index.chunks[min(candidate.positions)].chunk
        return Citation.of(first, article, candidate.start, candidate.end)

    def _copies(self, candidate: Candidate, found: Gathered) -> list[Citation]:
        """Citations of the copies of a candidate's chunks (a merged passage: of all of them)."""
        positions = [p for own in candidate.positions for p in found.copies.get(own, ())]
        return [
            Citation.of(s.chunk, self.index.articles[s.chunk.article_id])
            for s in self.index.chunks.at(positions)
        ]


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
    generation: str | None = None,
) -> Bot:
    """Load a bot over `index_dir`, or over the built-in sample index (built on first use).

    `embedder` replaces the one the index names (it must be the same model); `overrides`
    replaces retrieval settings for this bot only (e.g. `{"keyword_weight": 0}`); `generation`
    names the generation to load instead of the live one (a server switching to a new one).

    Raises:
        index.errors.IndexNotFoundError, IndexCorruptError, IndexMismatchError, EmbedderError.
    """
    if index_dir is None:
        from index.sample import ensure_sample_index

        index_dir = ensure_sample_index(progress=progress)
    index_dir = Path(index_dir)
    if embedder is None:
        settings = IndexSettings.from_dict(read_manifest(index_dir)["settings"])
        embedder = make_embedder(settings.embed, progress=progress)
    index = load_index(index_dir, embedder.model_id, embedder.fingerprint, generation=generation, warm=True)
    retrieval = RetrievalSettings.from_dict(index.settings.retrieval)
    bot = Bot(index, embedder, replace(retrieval, **overrides) if overrides else retrieval)
    _ = bot.background  # now (measured in about a second, or kept), not on the first reader's question
    threading.Thread(target=bot.warm, name="warm-bot", daemon=True).start()
    return bot
