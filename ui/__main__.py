"""Command line: `python -m ui serve [--host H] [--port P] [--index DIR]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ui command line; return the exit status."""
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ui", description="Serve the chat, the REST API and the widget.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default=os.environ.get("WENDA_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("WENDA_PORT", "7860")))
    serve.add_argument("--index", type=Path, default=_env_path("WENDA_INDEX_DIR"), help="index directory (default: the built-in sample index, built on first run)")
    serve.add_argument("--feedback-log", type=Path, default=_env_path("WENDA_FEEDBACK_LOG"), help="JSONL file for thumbs up/down")
    serve.set_defaults(run=_serve)
    return parser


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from index.store import IndexStoreError
    from ui.app import AppSettings, create_app
    from ui.service import BotService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    index_dir = args.index
    if index_dir is None:
        index_dir = _prepare_sample()
    elif not index_dir.exists():
        print(f"error: no index at {str(index_dir)!r}: build one with `python -m index build --corpus DIR --index {index_dir}`", file=sys.stderr)
        return 2
    service = BotService(index_dir).start(background=True)
    app = create_app(AppSettings(index_dir=index_dir, feedback_path=args.feedback_log), service)
    print(f"Serving the chat at http://{args.host}:{args.port}/  (API docs at /docs)", file=sys.stderr)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    except (OSError, IndexStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _prepare_sample() -> Path:
    """Prepare the default model and build the sample index if missing (first run prints progress)."""
    from index.sample import ensure_sample_index

    return ensure_sample_index(progress=True)


if __name__ == "__main__":
    sys.exit(main())
