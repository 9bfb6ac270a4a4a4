"""Command line: `python -m ui serve [--config FILE] [--host H] [--port P] …`, `python -m ui demo-host`."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ui.logs import LEVELS, configure_logging, uvicorn_level
from ui.settings import ENV, Settings, SettingsError, load_settings, read_admin_token

if TYPE_CHECKING:
    from ui.progress import StartProgress
    from ui.starting import SwitchingApp

log = logging.getLogger("wenda.ui")


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
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the address readers use, e.g. https://qa.example.com behind a proxy: the /embed snippets "
        f"point there (env: {env['public_url']}; default: this server's own address)",
    )
    serve.add_argument(
        "--admin-token-file",
        type=Path,
        metavar="FILE",
        help=f"turn on the admin page at /admin; FILE holds its token (env: {env['admin_token_file']}; "
        "default: off). The token itself is never given on the command line",
    )
    serve.add_argument("--admin-token", nargs="?", action=_RefuseToken, help=argparse.SUPPRESS)
    serve.add_argument(
        "--log-level",
        choices=LEVELS,
        default="info",
        help="console log: info shows Wenda's own lines and warnings; debug also every library's "
        "(default: %(default)s)",
    )
    serve.set_defaults(run=_serve)


class _RefuseToken(argparse.Action):
    """`--admin-token VALUE` is refused without echoing VALUE: a token on the command line shows
    in process lists and shell histories."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error(
            "the admin token is never given on the command line (process lists and shell histories show it): "
            "write it to a file readable only by you and pass --admin-token-file FILE"
        )


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
        "public_url",
        "admin_token_file",
    )
    flags = {name: getattr(args, name) for name in names}
    if flags["allowed_origins"]:
        flags["allowed_origins"] = [
            o for value in flags["allowed_origins"] for o in value.replace(",", " ").split()
        ]
    return flags


def _serve(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    try:
        settings = load_settings(_flags(args), config=args.config)
        if settings.admin_token_file is not None:
            read_admin_token(settings.admin_token_file)  # a bad token file stops the server now, not later
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
    """Listen at once (the start page), load the bot and build the full app in the background,
    switch to the full app when it is built, and say so when the chat is ready. An index that
    cannot be loaded stops the server (it will not load by waiting): exit status 3."""
    import uvicorn

    from index.errors import EXIT_INDEX, IndexStoreError
    from ui.progress import StartProgress
    from ui.security import OriginPolicy
    from ui.starting import SwitchingApp, starting_app

    url = f"http://{settings.host}:{settings.port}"
    progress = StartProgress()
    progress.begin("web")
    app = SwitchingApp(starting_app(progress.snapshot, OriginPolicy(settings.allowed_origins)))
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=settings.port, log_level=uvicorn_level())
    )
    failures: list[str] = []

    def stop(detail: str) -> None:
        failures.append(detail)
        server.should_exit = True

    threading.Thread(
        target=_start, args=(app, settings, progress, url, stop), name="wenda-start", daemon=True
    ).start()
    log.info("Wenda starting: %s shows the progress", url)
    try:
        server.run()
    except (OSError, IndexStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # uvicorn exits with 1 when it cannot listen (it logged why)
        if exc.code in (0, None):
            raise
        print(
            f"error: cannot listen on {settings.host}:{settings.port}; "
            "is the port in use? choose another with --port",
            file=sys.stderr,
        )
        return 2
    finally:
        app.run_shutdown_hooks()  # uvicorn re-raises SIGTERM after its own shutdown: the lifespan ran them
    if failures:
        print(f"error: {failures[0]}", file=sys.stderr)
        return EXIT_INDEX
    return 0


def _start(
    app: SwitchingApp, settings: Settings, progress: StartProgress, url: str, stop: Callable[[str], None]
) -> None:
    """Load the bot (in the background) while gradio is imported and the full app built; hand the
    app to the server; print one line when the chat is ready. A failure calls `stop` with the reason."""
    try:
        from ui.service import BotService

        service = BotService(settings.index, max_concurrent=settings.concurrency, progress=progress)
        app.on_shutdown.append(service.close)
        service.start(background=True, on_failure=stop)  # the model loads while gradio is imported
        from ui.app import create_app

        app.switch(create_app(settings, service))
        progress.finish("web")
    except Exception as exc:  # shown on the start page and in the log, never as a traceback
        log.error("the web app could not be started: %s", exc)
        log.debug("the web app could not be started", exc_info=True)
        progress.fail(f"the web app could not be started: {exc}")
        stop(f"the web app could not be started: {exc}")
        return
    service.wait()
    health = service.health()
    if health["index_loaded"]:
        print(
            f"Wenda ready: {url} (index {service.index_dir}, {health['articles']} articles, "
            f"{health['chunks']} chunks)",
            file=sys.stderr,
            flush=True,
        )


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
