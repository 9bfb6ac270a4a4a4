"""The server's console log: Wenda's own lines at the chosen level, libraries' only when they warn.

At `--log-level debug` everything is shown (libraries' INFO and DEBUG lines, uvicorn's access
log, faiss's loader). Otherwise the console holds Wenda's lines and real warnings and errors.
"""

from __future__ import annotations

import logging
import warnings

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("faiss.loader",)  # its INFO lines read like failures ("Could not load … ModuleNotFoundError")


def configure_logging(level: str = "info") -> None:
    """Send log lines to stderr: Wenda's (`wenda.*`) from `level`, other libraries' from WARNING
    (everything from DEBUG when `level` is debug)."""
    if level not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    debug = level == "debug"
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
    if not debug:  # some libraries set their own loggers to DEBUG (bm25s): filter at the handler
        handler.addFilter(lambda record: record.name.startswith("wenda") or record.levelno >= logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("wenda").setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.ERROR)
    logging.captureWarnings(True)
    if not debug:  # libraries' notices about their own future versions are for their developers
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)


def uvicorn_level() -> str:
    """uvicorn's own level: its start-up lines and access log only when debugging."""
    return "info" if logging.getLogger().getEffectiveLevel() <= logging.DEBUG else "warning"


__all__ = ["LEVELS", "configure_logging", "uvicorn_level"]
