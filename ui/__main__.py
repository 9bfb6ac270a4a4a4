"""Command line: `python -m ui serve [--config FILE] [--host H] [--port P] …`, `python -m ui demo-host`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ui.settings import ENV, Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ui command line; return the exit status."""
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ui", description="Serve the chat, the REST API and the widget."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_serve(
        commands.add_parser(
            "serve",
            help="start the web app",
            description="Start the web app. Each setting comes from its flag, else its WENDA_* variable, "
            "else the config file (--config or WENDA_CONFIG), else its default.",
        )
    )
    demo = commands.add_parser(
        "demo-host",
        help="serve a demo page on another origin that embeds the widget",
        description="Serve a mock news site that embeds the chat: the widget at /, an iframe at /iframe and "
        "Gradio's web component at /component. Start the app with --allowed-origins set to this "
        "site's address (e.g. http://127.0.0.1:8000), or the browser will refuse to show the chat.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    demo.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    demo.add_argument(
        "--app", default="http://127.0.0.1:7860", help="the chat app's address (default: %(default)s)"
    )
    demo.set_defaults(run=_demo_host)
    return parser


def _add_serve(serve: argparse.ArgumentParser) -> None:
    env = {name: variable for name, (variable, _) in ENV.items()}
    serve.add_argument(
        "--config", type=Path, help="TOML file with any of the settings below (env: WENDA_CONFIG)"
    )
    serve.add_argument("--host", help=f"address to listen on (env: {env['host']}; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help=f"port (env: {env['port']}; default 7860)")
    serve.add_argument(
        "--index",
        type=Path,
        help=f"index directory (env: {env['index']}; default: the sample index, built on first run)",
    )
    serve.add_argument(
        "--allowed-origins",
        nargs="+",
        metavar="ORIGIN",
        help="sites that may embed the chat and call the API from a browser, e.g. https://news.example.com "
        f"(env: {env['allowed_origins']}, comma-separated; default: none, only the app itself)",
    )
    serve.add_argument(
        "--feedback-log",
        type=Path,
        help=f"JSONL file for thumbs up/down and reasons (env: {env['feedback_log']}; "
        "default: feedback/feedback.jsonl in the cache directory)",
    )
    serve.add_argument(
        "--no-feedback",
        dest="feedback",
        action="store_const",
        const=False,
        help=f"do not record feedback (env: {env['feedback']}=false)",
    )
    serve.add_argument(
        "--feedback-max-bytes",
        type=int,
        help=f"rotate the feedback log past this size, keeping one older file "
        f"(env: {env['feedback_max_bytes']}; default 5000000)",
    )
    serve.add_argument("--top-k", type=int, help=f"passages per chat reply (env: {env['top_k']}; default 5)")
    serve.add_argument(
        "--concurrency", type=int, help=f"questions answered at once (env: {env['concurrency']}; default 16)"
    )
    serve.add_argument(
        "--example",
        dest="examples",
        action="append",
        metavar="QUESTION",
        help=f"an example question for the chat, repeatable (env: {env['examples']}, '|'-separated; "
        "default: the sample questions for the sample index, none for your own)",
    )
    serve.add_argument(
        "--placeholder",
        help=f"the question box's hint (env: {env['placeholder']}; default: a sample question for the "
        "sample index, a neutral hint for your own)",
    )
    serve.add_argument(
        "--placeholder-en",
        help=f"the hint on English pages (env: {env['placeholder_en']}; default: --placeholder)",
    )
    serve.add_argument(
        "--theme",
        choices=("auto", "light", "dark"),
        help=f"colours when the page address does not say (?theme=): auto follows the reader's system "
        f"(env: {env['theme']}; default auto)",
    )
    serve.set_defaults(run=_serve)


def _flags(args: argparse.Namespace) -> dict:
    names = (
        "host",
        "port",
        "index",
        "allowed_origins",
        "feedback",
        "feedback_log",
        "feedback_max_bytes",
        "top_k",
        "concurrency",
        "examples",
        "placeholder",
        "placeholder_en",
        "theme",
    )
    flags = {name: getattr(args, name) for name in names}
    if flags["allowed_origins"]:
        flags["allowed_origins"] = [
            o for value in flags["allowed_origins"] for o in value.replace(",", " ").split()
        ]
    return flags


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(_flags(args), config=args.config)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.index is not None and not settings.index.exists():
        print(
            f"error: no index at {str(settings.index)!r}: build one with "
            f"`python -m index build --corpus DIR --index {settings.index}`",
            file=sys.stderr,
        )
        return 2
    return _run(settings)


def _run(settings: Settings) -> int:
    from index.errors import IndexStoreError
    from ui.service import BotService

    index_dir = settings.index or _prepare_sample()
    # Start loading the model before importing gradio, so the two overlap at start-up.
    service = BotService(index_dir, max_concurrent=settings.concurrency).start(background=True)
    import uvicorn

    from ui.app import create_app

    app = create_app(settings, service)
    print(
        f"Serving the chat at http://{settings.host}:{settings.port}/  (API docs: /docs, embedding: /embed)",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    except (OSError, IndexStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _prepare_sample() -> Path:
    """Prepare the default model and build the sample index if missing (first run prints progress)."""
    from index.sample import ensure_sample_index

    return ensure_sample_index(progress=True)


def _demo_host(args: argparse.Namespace) -> int:
    import uvicorn

    from ui.demo_host import check_app_url, create_demo_host

    try:
        app_url = check_app_url(args.app)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    here = f"http://{args.host}:{args.port}"
    print(
        f"Demo host page at {here}/ embedding the chat from {app_url}.\n"
        f"The app must allow this origin: python -m ui serve --allowed-origins {here}",
        file=sys.stderr,
    )
    try:
        uvicorn.run(create_demo_host(app_url), host=args.host, port=args.port, log_level="warning")
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
