"""Scale: FAISS index types (and the bm25s keyword index) at 100k and 1M chunks.

Vectors behave like real chunk embeddings: they are drawn from the vectors of a built
index (the CMRC trial index by default) as random convex mixtures of 3 real vectors,
plus Gaussian noise with the real vectors' own covariance, renormalised. Queries are
fresh draws from the same process. The script prints how the synthetic set compares with
the real one (nearest-neighbour and random-pair cosines) so the claim can be checked.

For each size: exact (flat) search is the reference; HNSW (M=32, efConstruction=200, the
store's defaults) with an efSearch sweep; IVF with SQ8 and with PQ with an nprobe sweep:
build time, memory (serialised size and RSS growth), single-query p50/p95 (one FAISS thread,
as the bot searches), recall@10.

With --write-index DIR --index-size N (no other sizes), it instead writes a whole index of N
chunks that `load_bot` serves, for end-to-end `ask` timing with bench/query.py: the real
chunks of --index plus synthetic ones. A synthetic chunk's vector is a mixture of 3 real chunk
vectors (as above) and its text is real sentences of those same 3 chunks, in proportion to
the mixture weights, so text and vector agree; its keyword tokens are those sentences'
tokens. The corpus therefore repeats each real sentence about N / 600 times: keyword
postings are far longer than in a real archive of N distinct chunks (a pessimistic case for
keyword search time), and recall against it means little: the near-copies of a question's
own passage crowd the passage out. With --held-out FILE, every second real article is never
mixed into a synthetic chunk (its ids go to FILE): its questions then face a million
distractors made of other articles, as a real archive's would, and
`big_recall.py --articles FILE` measures recall on those questions alone, against the same
questions on the small index.

    python bench/scale.py [--sizes 100000,1000000] [--types flat,hnsw,ivfsq8,ivfpq] [--keyword-sizes 100000]
    python bench/scale.py --sizes "" --keyword-sizes "" --streamed-sizes 10000000 --nprobe 16,32,64
    python bench/scale.py --sizes "" --keyword-sizes "" --write-index /tmp/idx-1m --index-size 1000000 [--index-type ivfsq8] [--held-out FILE]
    python bench/query.py --index /tmp/idx-1m --questions CMRC/questions.jsonl --limit 200 --rounds 2
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _common import ROOT, keep_top, machine_notes, ms, pct, rss_mb


def real_vectors(index_dir: Path) -> np.ndarray:
    from index.store import load_index

    return vectors_of(load_index(index_dir, verify=False))


def vectors_of(loaded) -> np.ndarray:
    """The stored vectors of a loaded index, in chunk order."""
    return np.stack([loaded.faiss_index.reconstruct(c.vid) for c in loaded.chunks]).astype(np.float32)


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """n vectors: Dirichlet mixtures of 3 real vectors + noise shaped like the real covariance."""
    return mixtures(base, n, rng, noise)[0]


def mixtures(
    base: np.ndarray,
    n: int,
    rng: np.random.Generator,
    noise: float,
    block: int = 100_000,
    pool: np.ndarray | None = None,
):
    """`synthetic`'s vectors with the 3 real vectors each one mixes and their weights (rows of
    `base`; only rows of `pool`, when given)."""
    centred = (base - base.mean(0)) / np.sqrt(len(base))
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    picks = (
        rng.integers(0, len(base), size=(n, 3))
        if pool is None
        else pool[rng.integers(0, len(pool), size=(n, 3))]
    )
    weights = rng.dirichlet([0.5, 0.5, 0.5], size=n).astype(np.float32)
    for start in range(0, n, block):
        m = min(block, n - start)
        v = np.einsum("mk,mkd->md", weights[start : start + m], base[picks[start : start + m]])
        v += noise * (rng.standard_normal((m, len(base)), dtype=np.float32) @ centred)
        v += 0.1 * noise * rng.standard_normal(v.shape, dtype=np.float32) / np.sqrt(base.shape[1])
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, picks, weights


def describe(name: str, vectors: np.ndarray, rng: np.random.Generator) -> None:
    import faiss

    sample = vectors[rng.choice(len(vectors), size=min(500, len(vectors)), replace=False)]
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    sims, _ = index.search(sample, 2)
    pairs = np.sum(sample[:-1] * sample[1:], axis=1)
    print(
        f"  {name:28s} nearest-neighbour cosine p50 {np.median(sims[:, 1]):.3f}; random-pair cosine "
        f"p50 {np.median(pairs):.3f} p5 {np.percentile(pairs, 5):.3f} p95 {np.percentile(pairs, 95):.3f}"
    )


def serialized_mb(index) -> float:
    import faiss

    return faiss.serialize_index(index).nbytes / 2**20


def single_queries(index, queries: np.ndarray, k: int = 10):
    """One search call per query, on one FAISS thread, as qa.retrieve.DenseRetriever runs them."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    times, ids = [], []
    try:
        for q in queries:
            started = time.perf_counter()
            _, found = index.search(q[None, :], k)
            times.append(time.perf_counter() - started)
            ids.append(found[0])
    finally:
        faiss.omp_set_num_threads(threads)
    return times, np.stack(ids)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def report(kind: str, knob: str, times, found, truth) -> None:
    print(
        f"    {kind:8s} {knob:14s} search p50 {ms(pct(times, 50)):>10s}  p95 {ms(pct(times, 95)):>10s}  recall@10 {recall(found, truth):.4f}"
    )


def build(kind: str, vectors: np.ndarray, rng: np.random.Generator, args, ef_construction: int = 80):
    """Build one index type; return (index, seconds, RSS growth MB)."""
    import faiss

    n, d = vectors.shape
    before = rss_mb()
    started = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    elif (
        kind == "hnswsq8"
    ):  # the store's `hnswsq8`: the graph over 8-bit codes (a quarter of the vectors' memory)
        index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.train(vectors[rng.choice(n, size=min(n, 100_000), replace=False)])
    else:
        nlist = max(16, int(4 * np.sqrt(n)))
        code = "SQ8" if kind == "ivfsq8" else f"PQ{args.pq_m}x8"
        index = faiss.index_factory(d, f"IVF{nlist},{code}", faiss.METRIC_INNER_PRODUCT)
        size = min(n, max(40 * nlist, 50_000), 160_000 if kind == "ivfsq8" else 65_536)  # PQ training is slow
        train = vectors[rng.choice(n, size=size, replace=False)]
        index.train(train)
    index.add(vectors)
    return index, time.perf_counter() - started, rss_mb() - before


def run_size(n: int, base: np.ndarray, args, rng: np.random.Generator) -> None:
    import faiss

    started = time.perf_counter()
    vectors = synthetic(base, n, rng, args.noise)
    queries = synthetic(base, args.queries, rng, args.noise)
    print(
        f"\n== {n:,} vectors x {base.shape[1]} (generated in {time.perf_counter() - started:.1f} s; raw {vectors.nbytes / 2**20:.0f} MB)"
    )
    describe(f"synthetic {n:,}", vectors, rng)
    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    del exact
    runs = [(k, efc) for k in args.types for efc in (args.ef_construction if k.startswith("hnsw") else [0])]
    for kind, efc in runs:
        index, seconds, grown = build(kind, vectors, rng, args, efc)
        name = f"{kind} (M={args.hnsw_m}, efConstruction={efc})" if kind.startswith("hnsw") else kind
        print(
            f"  {name}: build {seconds:.1f} s ({n / seconds:,.0f} vectors/s), serialised {serialized_mb(index):.0f} MB, RSS growth {grown:.0f} MB"
        )
        if kind == "flat":
            report(kind, "exact", *single_queries(index, queries), truth)
        elif kind.startswith("hnsw"):
            for ef in args.ef_search:
                index.hnsw.efSearch = ef
                report(kind, f"efSearch={ef}", *single_queries(index, queries), truth)
        else:
            ivf = faiss.extract_index_ivf(index)
            for nprobe in args.nprobe:
                ivf.nprobe = nprobe
                report(kind, f"nprobe={nprobe}", *single_queries(index, queries), truth)
        del index


def run_streamed(n: int, base: np.ndarray, args, rng: np.random.Generator) -> None:
    """IVF-SQ8 at a size whose vectors do not fit in memory (10M x 384 floats are 15 GB), built
    as the store builds it (index.store.vectors: make_faiss_index, train_faiss, ADD_ROWS at a
    time) from vectors made block by block, never all held: each block comes from its own
    seeded generator, so the exact top 10 (merged block by block) and the index see the same
    vectors. Prints the build time, the RSS growth and an nprobe sweep."""
    import tempfile

    import faiss

    from index.settings import StoreSettings
    from index.store.vectors import ADD_ROWS, TRAIN_ROWS, make_faiss_index, train_faiss

    block = 500_000
    starts = range(0, n, block)
    scratch = Path(tempfile.mkdtemp(prefix="wenda-scale-", dir=args.scratch))

    def vectors_of(start: int) -> np.ndarray:
        """Block `start`'s vectors: made (and kept on disk) the first time, then mapped from disk."""
        path = scratch / f"{start}.npy"
        if path.exists():
            return np.load(path, mmap_mode="r")
        made = mixtures(base, min(block, n - start), np.random.default_rng([args.seed, start]), args.noise)[0]
        np.save(path, made)
        return made

    queries = synthetic(base, args.queries, rng, args.noise)
    before, started = rss_mb(), time.perf_counter()
    top_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    top_ids = np.full((len(queries), 10), -1, dtype=np.int64)
    train = []
    for start in starts:
        vectors = vectors_of(start)
        exact = faiss.IndexFlatIP(base.shape[1])
        exact.add(vectors)
        scores, ids = exact.search(queries, 10)
        top_scores, top_ids = keep_top(top_scores, top_ids, scores, ids + start, 10)
        share = max(1, TRAIN_ROWS * len(vectors) // n)
        train.append(vectors[rng.choice(len(vectors), size=min(share, len(vectors)), replace=False)])
    print(
        f"\n== {n:,} vectors x {base.shape[1]}, streamed in blocks of {block:,}: exact top 10 of "
        f"{len(queries)} queries in {time.perf_counter() - started:.1f} s; RSS growth {rss_mb() - before:.0f} MB"
    )
    settings = StoreSettings(index_type="ivfsq8", ivf_nlist=args.nlist)
    started = time.perf_counter()
    index, info = make_faiss_index(base.shape[1], n, settings)
    train_faiss(index, np.concatenate(train))
    del train
    for start in starts:
        vectors = vectors_of(start)
        for at in range(0, len(vectors), ADD_ROWS):
            part = np.ascontiguousarray(vectors[at : at + ADD_ROWS])
            index.add_with_ids(part, np.arange(start + at, start + at + len(part), dtype=np.int64))
    print(
        f"  ivfsq8 (nlist {info['nlist']}, as the store builds it): build {time.perf_counter() - started:.1f} s "
        f"({n / (time.perf_counter() - started):,.0f} vectors/s incl. regenerating them); RSS growth {rss_mb() - before:.0f} MB"
    )
    shutil.rmtree(scratch)
    for nprobe in args.nprobe:
        index.nprobe = nprobe
        report("ivfsq8", f"nprobe={nprobe}", *single_queries(index, queries), top_ids)


def keyword_size(n: int, args, rng: np.random.Generator) -> None:
    """bm25s at n synthetic chunks: token ids drawn from the CMRC vocabulary's frequencies and lengths."""
    from index.store import load_index
    from index.store.keyword import KeywordIndex

    loaded = load_index(args.index, verify=False)
    from index.text import tokenize

    real = [tokenize(c.chunk.text) for c in loaded.chunks]
    vocab, counts = np.unique([t for doc in real for t in doc], return_counts=True)
    probs = counts / counts.sum()
    lengths = rng.choice([len(d) for d in real], size=n)
    started = time.perf_counter()
    flat = rng.choice(len(vocab), size=int(lengths.sum()), p=probs)
    docs, pos = [], 0
    for length in lengths:
        docs.append(vocab[flat[pos : pos + length]].tolist())
        pos += length
    print(
        f"\n== keyword (bm25s) {n:,} chunks, {int(lengths.sum()):,} tokens, vocabulary {len(vocab):,} "
        f"(generated in {time.perf_counter() - started:.1f} s)"
    )
    before = rss_mb()
    started = time.perf_counter()
    index = KeywordIndex.from_tokens(docs)
    seconds = time.perf_counter() - started
    del docs
    arrays = sum(v.nbytes for v in index.bm25.scores.values() if hasattr(v, "nbytes")) / 2**20
    print(
        f"  build {seconds:.1f} s ({n / seconds:,.0f} chunks/s); score arrays {arrays:.0f} MB; RSS growth {rss_mb() - before:.0f} MB"
    )
    questions = [c.chunk.text[:20] for c in loaded.chunks[: args.queries]]
    times = []
    for q in questions:
        t0 = time.perf_counter()
        index.search(q, 50)
        times.append(time.perf_counter() - t0)
    print(f"  KeywordIndex.search (top 50) p50 {ms(pct(times, 50))}  p95 {ms(pct(times, 95))}")


def write_synthetic_index(target: Path, n: int, args, rng: np.random.Generator) -> None:
    """An index of the real chunks of args.index plus synthetic ones up to n chunks (see the docstring).

    It is written as a build streams (index.build): vectors made BLOCK at a time and appended
    to a VectorSpool, each chunk's tokens to a TokenSpool, the article and chunk records to a
    RecordSpool (SQLite on disk); no list of the whole corpus is held. The writer's peak RSS
    is printed at the end.
    """
    import resource

    from index.documents import Article, Chunk, Section, content_hash
    from index.settings import IndexSettings
    from index.store import StoredChunk, load_index, write_index, writer_lock
    from index.store.keyword import KEYWORD_DIR, TOKENS_DIR, ChunkTokens
    from index.store.keyword_writer import TokenSpool
    from index.store.spool import VectorSpool, record_spool
    from index.text import SENTENCE_ENDS, char_class, tokenize

    # a sentence: up to its end marks and the closing quotes ”」）) that follow them
    sentence = re.compile(f"{char_class(SENTENCE_ENDS, negate=True)}+{char_class(SENTENCE_ENDS + '”」）)')}*")

    started = time.perf_counter()
    real = load_index(args.index, verify=False)
    base = vectors_of(real)
    stored = ChunkTokens.load(real.path(KEYWORD_DIR) / TOKENS_DIR)
    sentences = [sentence.findall(c.chunk.text) or [c.chunk.text] for c in real.chunks]
    sentence_tokens = [[tokenize(x) for x in row] for row in sentences]
    extra = n - len(real.chunks)
    pool = None
    if args.held_out:  # every second real article is never mixed into a synthetic chunk
        held = set(list(real.articles)[::2])
        args.held_out.write_text("".join(f"{a}\n" for a in sorted(held)), encoding="utf-8")
        pool = np.array([i for i, c in enumerate(real.chunks) if c.chunk.article_id not in held])
        print(
            f"held out: {len(held)} of {len(real.articles)} real articles ({len(real.chunks) - len(pool)} chunks), listed in {args.held_out}"
        )
    settings = IndexSettings.from_dict(real.manifest["settings"])
    if args.index_type:
        settings = replace(settings, store=replace(settings.store, index_type=args.index_type))
    before = rss_mb()
    with writer_lock(target):
        vectors = VectorSpool(target, base.shape[1])
        tokens = TokenSpool.beside(target)
        records = record_spool(target)
        for article in real.articles.values():
            records.add_article(article)
        for i, c in enumerate(real.chunks):
            records.add_chunk(StoredChunk(c.chunk, i, c.embed_hash))
        vectors.append(base)
        for i in range(len(real.chunks)):
            tokens.add(stored.row(i))
        count = 0
        for block in range(0, extra, 100_000):
            mixed, picks, weights = mixtures(base, min(100_000, extra - block), rng, args.noise, pool=pool)
            vectors.append(mixed)
            for j in range(len(mixed)):
                i = block + j
                parts: list[str] = []
                words: list[str] = []
                for pick, weight in zip(picks[j], weights[j]):
                    row = sentences[pick]
                    take = int(np.rint(weight * len(row)))  # half to even, as round()
                    first = int(rng.integers(0, len(row) - take + 1))
                    parts += row[first : first + take]
                    for t in sentence_tokens[pick][first : first + take]:
                        words += t
                if not parts:  # every weight rounded to nothing: take the strongest chunk's first sentence
                    pick = picks[j][int(np.argmax(weights[j]))]
                    parts, words = sentences[pick][:1], list(sentence_tokens[pick][0])
                text = "".join(parts)
                article_id = f"synthetic/{i:07d}"
                records.add_article(
                    Article(
                        article_id,
                        f"合成文章 {i}",
                        text,
                        ((0, len(text)),),
                        (Section(None, 0, len(text)),),
                        source="synthetic",
                    )
                )
                chunk = Chunk(content_hash(article_id, text), article_id, text, 0, len(text), None, 1, 1)
                records.add_chunk(StoredChunk(chunk, records.chunks, content_hash(text)))
                tokens.add(words)
                count += len(words)
        print(
            f"\n== synthetic index of {records.chunks:,} chunks ({len(real.chunks)} real) generated and spooled in "
            f"{time.perf_counter() - started:.1f} s; {count:,} synthetic keyword tokens; RSS growth {rss_mb() - before:.0f} MB"
        )
        started = time.perf_counter()
        chunks, articles = records.finish()
        try:
            write_index(
                target,
                articles=articles,  # its length is all the writer asks of it (FAISS store)
                chunks=chunks,
                vectors=vectors,
                settings=settings,
                model=real.manifest["model"],
                extra_files={KEYWORD_DIR: lambda path: _timed_keyword(path, tokens)},
                extra_manifest={
                    "change": {"kind": "build", "embedded": 0, "reused": len(chunks)},
                    "synthetic": f"bench/scale.py --index-size {n}",
                },
                records=records.path,
            )
        finally:
            chunks.records.close()
            records.path.unlink(missing_ok=True)
            vectors.close()
    generation = target / (target / "CURRENT").read_text().strip()
    sizes = {p.name: p.stat().st_size for p in generation.iterdir() if p.is_file()}
    keyword = sum(p.stat().st_size for p in (generation / KEYWORD_DIR).rglob("*") if p.is_file())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  written in {time.perf_counter() - started:.1f} s (FAISS build, "
        f"keyword build, files, checksums); peak RSS of the process {peak:,.0f} MB; files: "
        + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in sorted(sizes.items()) if v > 2**20)
        + f", keyword/ {keyword / 2**20:.0f} MB"
    )


def _timed_keyword(path: Path, tokens) -> None:
    started = time.perf_counter()
    tokens.finish(path)
    print(
        f"  keyword index (bm25s + stored tokens) built from the spool and saved in {time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index",
        type=Path,
        default=ROOT / "var" / "index" / "cmrc",
        help="a built index whose vectors seed the synthetic ones (default: the README's CMRC "
        "index, python -m index build --corpus …/cmrc2018_trial/passages.jsonl --index var/index/cmrc)",
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--types", default="flat,hnsw,ivfsq8,ivfpq")
    parser.add_argument("--keyword-sizes", default="100000", help="comma-separated; empty to skip")
    parser.add_argument(
        "--streamed-sizes",
        default="",
        help="comma-separated: IVF-SQ8 alone, vectors made block by block (10M)",
    )
    parser.add_argument(
        "--scratch", default=None, help="where --streamed-sizes keeps its vector blocks (/tmp)"
    )
    parser.add_argument(
        "--nlist", type=int, default=0, help="IVF lists of --streamed-sizes (0: the store's 4 x sqrt(n))"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.5, help="scale of the covariance-shaped noise")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument(
        "--ef-construction", default="200", help="comma-separated: one HNSW build each (the store uses 200)"
    )
    parser.add_argument("--ef-search", default="16,32,64,128,256")
    parser.add_argument("--nprobe", default="8,16,32,64")
    parser.add_argument("--pq-m", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--write-index", type=Path, default=None, help="write a servable synthetic index here"
    )
    parser.add_argument("--index-size", type=int, default=1_000_000, help="chunks of the --write-index index")
    parser.add_argument(
        "--index-type", default="", help="FAISS type of the --write-index index (default: --index's, auto)"
    )
    parser.add_argument(
        "--held-out",
        type=Path,
        default=None,
        help="with --write-index: mix no synthetic chunk from every second real article, and list "
        "those articles' ids in this file (for big_recall.py --articles)",
    )
    args = parser.parse_args()
    if not (args.index / "CURRENT").is_file():
        parser.error(f"no index at {args.index}: build the CMRC trial index first (see --help for --index)")
    args.types = [t for t in args.types.split(",") if t]
    bad = set(args.types) - {"flat", "hnsw", "hnswsq8", "ivfsq8", "ivfpq"}
    if bad:
        parser.error(f"unknown --types {sorted(bad)}; valid: flat, hnsw, hnswsq8, ivfsq8, ivfpq")
    args.ef_search = [int(x) for x in args.ef_search.split(",")]
    args.ef_construction = [int(x) for x in args.ef_construction.split(",")]
    args.nprobe = [int(x) for x in args.nprobe.split(",")]

    import faiss

    print(f"machine: {machine_notes()}; faiss {faiss.__version__}, omp threads {faiss.omp_get_max_threads()}")
    rng = np.random.default_rng(args.seed)
    base = real_vectors(args.index)
    print(f"seed vectors: {len(base)} real chunk vectors from {args.index}")
    describe("real (CMRC index)", base, rng)
    describe("synthetic 20k (same process)", synthetic(base, 20_000, rng, args.noise), rng)
    for n in [int(x) for x in args.sizes.split(",") if x]:
        run_size(n, base, args, rng)
    for n in [int(x) for x in args.streamed_sizes.split(",") if x]:
        run_streamed(n, base, args, rng)
    for n in [int(x) for x in args.keyword_sizes.split(",") if x]:
        keyword_size(n, args, rng)
    if args.write_index:
        write_synthetic_index(args.write_index, args.index_size, args, rng)


if __name__ == "__main__":
    main()
