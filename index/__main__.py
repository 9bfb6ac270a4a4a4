"""Command line: `python -m index build|add|remove|info …`.

Exit statuses (index.errors, README "Limits and errors"): 0 done, 1 unexpected error (a
bug), 2 bad usage or input, 3 the index cannot be used, 4 nothing written (another writer,
disk full, or the system refused), 130 interrupted. Every error is one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.errors import EXIT_INTERRUPTED, EXIT_OK, WendaError, exit_status, one_line
from index.settings import (
    EMBED_BACKENDS,
    FAISS_INDEX_TYPES,
    MILVUS_INDEX_TYPES,
    MILVUS_TOKEN_ENV,
    STORE_BACKENDS,
    ChunkSettings,
    EmbedSettings,
    IndexSettings,
    StoreSettings,
    default_model,
)
from index.store import live_generation, read_manifest
from index.store.generations import verify_files

ERRORS = (WendaError, ValueError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the index command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m index", description="Build, update and inspect question-answering indexes."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    defaults, store, embed = ChunkSettings(), StoreSettings(), EmbedSettings()

    # No abbreviations: `--milvus-token SECRET` must be refused, not taken for --milvus-token-file.
    build = commands.add_parser(
        "build", help="index a corpus directory (txt, md, html, jsonl)", allow_abbrev=False
    )
    build.add_argument(
        "--corpus", type=Path, action="append", required=True, help="corpus directory or file (repeatable)"
    )
    build.add_argument("--index", type=Path, required=True, help="index directory to write")
    build.add_argument("--model", default=None, help="sentence-transformers model name or local path")
    build.add_argument(
        "--backend",
        choices=EMBED_BACKENDS,
        default=embed.backend,
        help="run the model as it is (torch, fp32) or as an int8 ONNX export (onnx-int8: faster "
        "indexing, needs the onnx extra)",
    )
    build.add_argument("--batch-size", type=int, default=embed.batch_size, help="chunks per model call")
    build.add_argument(
        "--chunk-size", type=int, default=defaults.chunk_size, help="most characters of new text per chunk"
    )
    build.add_argument(
        "--chunk-overlap",
        type=int,
        default=defaults.chunk_overlap,
        help="most characters the overlap may add",
    )
    build.add_argument(
        "--overlap-sentences",
        type=int,
        default=defaults.overlap_sentences,
        help="sentences of the previous chunk repeated at the start of the next (0: none)",
    )
    build.add_argument(
        "--index-type",
        choices=FAISS_INDEX_TYPES,
        default=store.index_type,
        help="FAISS index: exact (flat), approximate (hnsw), compressed to 8 bits a dimension "
        "(ivfsq8, hnswsq8), or by size (auto)",
    )
    build.add_argument(
        "--ivf-threshold",
        type=int,
        default=store.ivf_threshold,
        help="with --index-type auto, the chunk count from which IVF-SQ8 is used",
    )
    build.add_argument(
        "--ivf-nprobe",
        type=int,
        default=store.ivf_nprobe,
        help="IVF lists searched a query (more: better recall, slower)",
    )
    build.add_argument(
        "--hnsw-threshold",
        type=int,
        default=store.hnsw_threshold,
        help="with --index-type auto, the chunk count from which HNSW is used",
    )
    build.add_argument(
        "--store",
        choices=STORE_BACKENDS,
        default=store.backend,
        help="where the vectors live: a FAISS file in the index (default) or a Milvus collection",
    )
    build.add_argument(
        "--milvus-uri",
        default=None,
        help="with --store milvus: a local PATH.db (Milvus Lite) or http://HOST:19530 (a Milvus server)",
    )
    build.add_argument(
        "--milvus-token-file",
        type=Path,
        default=None,
        help=f"file holding the Milvus token (else ${MILVUS_TOKEN_ENV}; never give it on the command line)",
    )
    build.add_argument(
        "--milvus-alias",
        default=None,
        help="the index's name in Milvus (default: wenda_<index directory name>)",
    )
    build.add_argument(
        "--milvus-index-type",
        choices=MILVUS_INDEX_TYPES,
        default=store.milvus_index_type,
        help="Milvus vector index: HNSW, or HNSW_SQ / IVF_SQ8 (8-bit, a quarter of the memory)",
    )
    build.add_argument(
        "--milvus-bigrams",
        action=argparse.BooleanOptionalAction,
        default=store.milvus_bigrams,
        help="a second BM25 field over character bigrams beside the jieba one",
    )
    build.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="read, chunk and embed with Ray Data: a local Ray without ADDRESS, else join the cluster "
        "at ADDRESS (needs the ray extra)",
    )
    build.add_argument(
        "--ray-workers", type=int, default=2, help="with --ray: embedding actors (each a model copy)"
    )
    build.add_argument(
        "--ray-cpus-per-actor",
        type=float,
        default=0.5,
        help="with --ray: CPUs each actor asks for (0.5 fits two on a 2-core machine; 1 on a cluster)",
    )
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.set_defaults(run=_build)

    add = commands.add_parser("add", help="add or replace the articles of files in an index (no rebuild)")
    add.add_argument("--index", type=Path, required=True)
    add.add_argument("files", type=Path, nargs="+", metavar="FILE", help="corpus files or directories")
    add.add_argument(
        "--root",
        type=Path,
        default=None,
        help="directory article ids are relative to (default: the build's corpus directory)",
    )
    add.add_argument("--quiet", action="store_true", help="no progress output")
    add.set_defaults(run=_add)

    remove = commands.add_parser("remove", help="remove articles from an index by id")
    remove.add_argument("--index", type=Path, required=True)
    remove.add_argument("article_ids", nargs="+", metavar="ARTICLE_ID")
    remove.set_defaults(run=_remove)

    info = commands.add_parser("info", help="describe an index (after checking every file's checksum)")
    info.add_argument("--index", type=Path, required=True)
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")
    info.add_argument("--articles", action="store_true", help="also list the article ids and titles")
    info.set_defaults(run=_info)
    return parser


def _build(args: argparse.Namespace) -> int:
    from index.build import build_index

    settings = IndexSettings().with_model(args.model or default_model())
    chunk = replace(
        settings.chunk,
        chunk_size=args.chunk_size,
        chunk_overlap=args.chunk_overlap,
        overlap_sentences=args.overlap_sentences,
    )
    if args.store != "milvus" and (args.milvus_uri or args.milvus_token_file or args.milvus_alias):
        raise ValueError("--milvus-uri, --milvus-token-file and --milvus-alias need --store milvus")
    store = StoreSettings(
        index_type=args.index_type,
        hnsw_threshold=args.hnsw_threshold,
        ivf_threshold=args.ivf_threshold,
        ivf_nprobe=args.ivf_nprobe,
        backend=args.store,
        milvus_uri=args.milvus_uri,
        milvus_token_file=str(args.milvus_token_file.expanduser().resolve())
        if args.milvus_token_file
        else None,
        milvus_alias=args.milvus_alias,
        milvus_index_type=args.milvus_index_type,
        milvus_bigrams=args.milvus_bigrams,
    )
    embed = replace(settings.embed, backend=args.backend, batch_size=args.batch_size)
    settings = replace(settings, chunk=chunk, store=store, embed=embed)
    if args.ray is not None:
        from index.distributed import RayOptions, ray_build_index

        options = RayOptions(
            address=None if args.ray == "local" else args.ray,
            workers=args.ray_workers,
            cpus_per_actor=args.ray_cpus_per_actor,
        )
        report = ray_build_index(
            args.corpus, args.index, settings, options, progress=not args.quiet, echo=_echo
        )
    else:
        report = build_index(args.corpus, args.index, settings, progress=not args.quiet, echo=_echo)
    print(report.summary())
    return EXIT_OK


def _add(args: argparse.Namespace) -> int:
    from index.update import update_index

    report = update_index(args.index, add=args.files, root=args.root, progress=not args.quiet, echo=_echo)
    print(report.update_summary())
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from index.update import update_index

    report = update_index(args.index, remove=args.article_ids, progress=False)
    print(report.update_summary())
    return EXIT_OK


def _echo(line: str) -> None:
    """Print a skipped file (or a note on one) the moment it happens, on one line."""
    print("".join(c if c.isprintable() else repr(c)[1:-1] for c in line), file=sys.stderr, flush=True)


def _info(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.index)
    # a damaged index is an error, not a description; every file is read (no stat stamp)
    verify_files(live_generation(args.index), manifest, full=True)
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(describe(manifest))
    if args.articles:
        from index.store import load_index

        for article in load_index(args.index, verify=False).articles.values():
            print(f"  {article.id}\t{article.title}")
    return EXIT_OK


def describe(manifest: dict[str, Any]) -> str:
    """The manifest in words."""
    model, counts = manifest["model"], manifest["counts"]
    settings = manifest["settings"]
    lines = [
        (
            f"Index format {manifest['format_version']}, written {manifest['created']}"
            f"{_change_words(manifest.get('change'))}."
        ),
        (
            f"Holds {counts['articles']} articles in {counts['chunks']} chunks; "
            f"next FAISS id {manifest.get('next_vid', '?')}."
        ),
        _chunk_words(settings.get("chunk", {})),
        f"Cleaning steps: {', '.join(settings.get('clean', {}).get('steps', [])) or 'none'}.",
        _model_words(model),
        _store_words(manifest, settings.get("store", {})),
        "Keyword index: BM25 (bm25s, k1=1.2, b=0.75) over jieba words and character bigrams, in keyword/"
        + (
            " (for the answer line's IDF; questions are searched by Milvus's BM25)."
            if (manifest.get("store") or {}).get("backend") == "milvus"
            else "."
        ),
        _retrieval_words(settings.get("retrieval", {})),
    ]
    if roots := manifest.get("corpus", {}).get("roots"):
        lines.append(f"Built from {', '.join(roots)}.")
    lines += _file_lines(manifest["files"])
    versions = manifest.get("versions") or {}
    lines.append("Library versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    return "\n".join(lines)


def _model_words(model: dict[str, Any]) -> str:
    return (
        f"Embedding model {model['id']} run by {model.get('backend', 'torch')} "
        f"(fingerprint {model['fingerprint']}), {model['dimension']} dimensions, "
        f"vectors normalised: {'yes' if model.get('normalized') else 'no'}; "
        f"prompts: {_prompt_words(model.get('prompts'))}."
    )


def _change_words(change: dict[str, Any] | None) -> str:
    if not change:
        return ""
    if change.get("kind") == "build":
        return f" by a build ({change['embedded']} chunks embedded, {change['reused']} reused)"
    return (
        f" by an update ({change['added']} articles added, {change['replaced']} replaced, "
        f"{change['removed']} removed; "
        f"{change['embedded']} chunks embedded, {change['reused']} kept; FAISS {change.get('faiss', '')})"
    )


def _chunk_words(chunk: dict[str, Any]) -> str:
    sentences = chunk.get("overlap_sentences")
    overlap = (
        f"{sentences} sentence(s) of overlap, at most {chunk.get('chunk_overlap')} characters"
        if sentences is not None
        else f"{chunk.get('chunk_overlap')} characters of overlap"
    )
    return (
        f"Chunks: at most {chunk.get('chunk_size')} characters of new text, {overlap}, "
        f"one section at a time; embedded with context: {chunk.get('context')}."
    )


def _prompt_words(prompts: dict[str, Any] | None) -> str:
    if not prompts:
        return "none"
    return ", ".join(f"{k} {v!r}" for k, v in prompts.items())


def _store_words(manifest: dict[str, Any], store: dict[str, Any]) -> str:
    section = manifest.get("store") or {}
    if section.get("backend") != "milvus":
        return _faiss_words(manifest["faiss"], store)
    bigrams = section.get("bigram_analyzer")
    return (
        f"Milvus store at {section.get('uri')} ({section.get('server')}): collection {section.get('collection')} "
        f"behind alias {section.get('alias')}, {section.get('index_type')} over {section.get('metric')}; "
        f"BM25 over {section.get('keyword_analyzer')} words"
        + (f" and character bigrams ({bigrams} tokenizer)" if bigrams else "")
        + (f"; {len(section['pending_delete'])} deletes pending" if section.get("pending_delete") else "")
        + "."
    )


def _faiss_words(info: dict[str, Any], store: dict[str, Any]) -> str:
    kind = info["type"]
    how = "chosen by size" if info.get("chosen", "auto") == "auto" else "forced by settings"
    threshold = info.get("threshold", store.get("hnsw_threshold"))
    if kind == "flat":
        desc = "exact inner-product search (IndexFlatIP)"
    elif kind == "ivfsq8":
        desc = f"IVF over 8-bit codes (nlist={info.get('nlist')}, nprobe={info.get('nprobe')}), its own ids"
    else:
        desc = (
            f"approximate HNSW graph (M={info.get('m')}, efConstruction={info.get('ef_construction')}, "
            f"efSearch={info.get('ef_search')})"
        )
    metric = info.get("metric", "inner_product")
    sq = " over 8-bit codes" if kind == "hnswsq8" else ""
    mapped = "" if kind == "ivfsq8" else " in an ID map"
    ivf = info.get("ivf_threshold", store.get("ivf_threshold"))
    sizes = f"HNSW from {threshold} chunks" + (f", IVF-SQ8 from {ivf}" if ivf else "")
    return f"FAISS index: {desc}{sq}{mapped}, {metric} metric, {how} ({sizes})."


def _retrieval_words(retrieval: dict[str, Any]) -> str:
    if not retrieval:
        return "Retrieval settings: defaults."
    return (
        f"Retrieval: dense weight {retrieval.get('dense_weight')}, "
        f"keyword weight {retrieval.get('keyword_weight')}, RRF k={retrieval.get('rrf_k')}, "
        f"{retrieval.get('candidates')} candidates; abstention: {retrieval.get('calibration')}."
    )


def _file_lines(files: dict[str, dict[str, Any]]) -> list[str]:
    size = sum(f["bytes"] for f in files.values())
    lines = [f"{len(files)} files, {size / 1e6:.1f} MB, each checked against its SHA-256 (all match):"]
    for name, entry in sorted(files.items()):
        lines.append(f"  {name}  {entry['bytes']:,} bytes  sha256 {entry['sha256'][:16]}…")
    return lines


if __name__ == "__main__":
    sys.exit(main())
