"""Indexing speed: `index.build.build_index` next to a plain SentenceTransformer.encode.

Both run in this process on the same chunk texts (the CMRC 2018 trial passages by
default): first the plain encode, then the full build into a temporary directory. Tokens
are counted with the model's tokenizer, as the model sees them (prompt included, cut at
max_seq_length). With --onnx, the same corpus is also built with the `onnx-int8` embedding
backend (index/embed/onnx_int8.py; its one-off export is timed apart), and the dense recall@5 of
the CMRC trial questions over the fp32 and int8 chunk vectors is compared.

    python bench/indexing.py [--corpus FILE_OR_DIR] [--passages N] [--onnx] [--questions FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import CMRC_DIR, machine_notes, peak_rss_mb


def load_chunks(corpus: Path, passages: int, tmp: Path):
    """Articles, chunks and embedded chunk texts of the corpus (optionally its first N jsonl passages),
    read and chunked as `build_index` does."""
    from index.ingest import corpus_files, read_corpus
    from index.settings import IndexSettings
    from index.writer import chunks_with_texts

    if passages and corpus.suffix == ".jsonl":
        subset = tmp / "corpus.jsonl"
        subset.write_text(
            "".join(corpus.read_text(encoding="utf-8").splitlines(keepends=True)[:passages]), encoding="utf-8"
        )
        corpus = subset
    settings = IndexSettings()
    root = corpus if corpus.is_dir() else None
    articles, _ = read_corpus(corpus_files(corpus), root=root, steps=settings.clean.steps)
    pairs = [pair for article in articles for pair in chunks_with_texts(article, settings)]
    return corpus, articles, [chunk for chunk, _ in pairs], [text for _, text in pairs]


def count_tokens(model, texts: list[str], prompt: str) -> int:
    tok = model.tokenizer([prompt + t for t in texts], truncation=True, max_length=model.max_seq_length)
    return sum(len(ids) for ids in tok["input_ids"])


def line(name: str, seconds: float, chunks: int, tokens: int, base: float | None = None) -> str:
    rel = f"  x{base / seconds:.2f} vs plain encode" if base else ""
    return f"{name:34s} {seconds:7.1f} s  {chunks / seconds:7.1f} chunks/s  {tokens / seconds:7.0f} tokens/s{rel}  (peak RSS {peak_rss_mb():.0f} MB)"


def recall_at_5(
    chunk_vecs: np.ndarray, chunk_articles: list[str], query_vecs: np.ndarray, gold: list[str]
) -> float:
    """Share of questions whose gold passage has a chunk among the 5 nearest chunks."""
    top = np.argsort(-(query_vecs @ chunk_vecs.T), axis=1)[:, :5]
    hits = sum(g in {chunk_articles[j] for j in row} for row, g in zip(top, gold))
    return hits / len(gold)


class Recorder:
    """Wraps an embedder and keeps every passage vector it returns, by text."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_id, self.fingerprint, self.dimension = inner.model_id, inner.fingerprint, inner.dimension
        self.backend = getattr(inner, "backend", "torch")
        self.prompts = inner.prompts
        self.vectors: dict[str, np.ndarray] = {}

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress: bool = False):
        vectors = self.inner.embed_passages(texts, progress=progress)
        self.vectors.update(zip(texts, vectors))
        return vectors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CMRC_DIR / "passages.jsonl")
    parser.add_argument(
        "--passages", type=int, default=0, help="only the first N passages of a .jsonl corpus (0: all)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="plain encode batch size (32: sentence-transformers' default)",
    )
    parser.add_argument(
        "--onnx", action="store_true", help="also build with the onnx-int8 backend; its recall loss"
    )
    parser.add_argument(
        "--questions",
        type=Path,
        default=CMRC_DIR / "questions.jsonl",
        help="for recall (qid, question, gold_passage_id)",
    )
    args = parser.parse_args()

    from index.build import build_index
    from index.embed import make_embedder
    from index.settings import EmbedSettings, IndexSettings

    print(f"machine: {machine_notes()}")
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        corpus, articles, chunks, texts = load_chunks(args.corpus, args.passages, Path(tmp))
        fp32 = Recorder(make_embedder(progress=False))
        model = fp32.inner.model
        tokens = count_tokens(model, texts, "passage: ")
        print(
            f"corpus: {corpus} -> {len(articles)} articles, {len(chunks)} chunks, {tokens} tokens "
            f"(mean {tokens / len(chunks):.0f} tokens, {sum(map(len, texts)) / len(texts):.0f} chars per chunk)"
        )
        model.encode(texts[:8], prompt_name="passage")  # warm-up

        started = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, prompt_name="passage", normalize_embeddings=True)
        plain = time.perf_counter() - started
        print(line(f"plain ST encode (fp32, batch {args.batch_size})", plain, len(chunks), tokens))

        started = time.perf_counter()
        report = build_index(corpus, Path(tmp) / "fp32", embedder=fp32, progress=False)
        print(
            line(
                f"build_index, torch fp32 (batch {fp32.inner.settings.batch_size})",
                time.perf_counter() - started,
                report.chunks,
                tokens,
                plain,
            )
        )
        if not args.onnx:
            return

        started = time.perf_counter()
        int8 = Recorder(make_embedder(EmbedSettings(backend="onnx-int8"), progress=True))
        print(f"onnx-int8 backend ready (export on first use + load): {time.perf_counter() - started:.1f} s")
        int8.embed_passages(texts[:8])  # warm-up
        int8.vectors.clear()
        started = time.perf_counter()
        settings = IndexSettings(embed=EmbedSettings(backend="onnx-int8"))
        report = build_index(corpus, Path(tmp) / "int8", settings, embedder=int8, progress=False)
        print(line("build_index, onnx-int8", time.perf_counter() - started, report.chunks, tokens, plain))
        if args.passages:
            return
        rows = [json.loads(l) for l in args.questions.read_text(encoding="utf-8").splitlines() if l.strip()]
        questions, gold = [r["question"] for r in rows], [r["gold_passage_id"] for r in rows]
        owners = [c.article_id for c in chunks]
        v32 = np.stack([fp32.vectors[t] for t in texts])
        v8 = np.stack([int8.vectors[t] for t in texts])
        r32 = recall_at_5(v32, owners, fp32.embed_queries(questions), gold)
        r8 = recall_at_5(v8, owners, int8.embed_queries(questions), gold)
        print(
            f"dense recall@5 on {len(questions)} CMRC questions: fp32 {100 * r32:.2f}  int8 {100 * r8:.2f}  "
            f"loss {100 * (r32 - r8):.2f} points (target <= 0.5)"
        )
        cosines = np.sum(v32 * v8, axis=1)
        print(f"cosine(fp32, int8) of chunk vectors: mean {cosines.mean():.4f}, min {cosines.min():.4f}")
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
