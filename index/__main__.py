"""Command line: `python -m index build|info …`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from index.config import ChunkSettings, IndexSettings, StoreSettings, default_model
from index.embed import EmbedderError
from index.ingest import CorpusError
from index.store import IndexStoreError, read_manifest

ERRORS = (CorpusError, IndexStoreError, EmbedderError, ValueError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the index command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build and inspect question-answering indexes.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="index a corpus directory (txt, md, jsonl)")
    build.add_argument("--corpus", type=Path, action="append", required=True, help="corpus directory or file (repeatable)")
    build.add_argument("--index", type=Path, required=True, help="index directory to write")
    build.add_argument("--model", default=None, help="sentence-transformers model name or local path")
    build.add_argument("--chunk-size", type=int, default=ChunkSettings.chunk_size)
    build.add_argument("--chunk-overlap", type=int, default=ChunkSettings.chunk_overlap)
    build.add_argument("--index-type", choices=("auto", "flat", "hnsw"), default="auto")
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.set_defaults(run=_build)

    info = commands.add_parser("info", help="describe an index")
    info.add_argument("--index", type=Path, required=True)
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")
    info.set_defaults(run=_info)
    return parser


def _build(args: argparse.Namespace) -> int:
    from index.build import build_index

    settings = IndexSettings().with_model(args.model or default_model())
    settings = replace(
        settings,
        chunk=replace(settings.chunk, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap),
        store=StoreSettings(index_type=args.index_type),
    )
    report = build_index(args.corpus, args.index, settings, progress=not args.quiet)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return 0


def _info(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.index)
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
        return 0
    print(describe(manifest))
    return 0


def describe(manifest: dict) -> str:
    """The manifest in words."""
    model, counts, faiss_info = manifest["model"], manifest["counts"], manifest["faiss"]
    chunk = manifest["settings"]["chunk"]
    size = sum(f["bytes"] for f in manifest["files"].values())
    lines = [
        f"Index format {manifest['format_version']}, built {manifest['created']}.",
        f"{counts['articles']} articles in {counts['chunks']} chunks "
        f"({chunk['chunk_size']} characters at most, {chunk['chunk_overlap']} of overlap).",
        f"Embedding model {model['id']} (fingerprint {model['fingerprint']}), {model['dimension']} dimensions, "
        f"normalised: {model['normalized']}, prompts: {model.get('prompts')}.",
        f"FAISS index: {faiss_info['type']} ({', '.join(f'{k}={v}' for k, v in faiss_info.items() if k != 'type')}).",
        f"{len(manifest['files'])} files, {size / 1e6:.1f} MB, each with a SHA-256 checksum.",
        "Built with " + ", ".join(f"{k} {v}" for k, v in manifest["versions"].items()) + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
