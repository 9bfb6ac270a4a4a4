"""The project's named errors: every one is a WendaError, and its message says how to fix it.

The index's errors live here; qa's and ui's errors subclass WendaError too. Where an error
used to be a ValueError or RuntimeError it still is one, so existing `except` clauses hold.
"""

from __future__ import annotations


class WendaError(Exception):
    """Base class of every error the project raises on purpose."""


class CorpusError(WendaError, ValueError):
    """A corpus file or directory that cannot be used as given."""


class UnknownArticleError(CorpusError):
    """An article id to remove that the index does not hold."""


class EmbedderError(WendaError, RuntimeError):
    """The embedding model cannot be loaded or used."""


class IndexStoreError(WendaError):
    """Base class of the index's named errors."""


class IndexNotFoundError(IndexStoreError):
    """No index at the given directory."""


class IndexCorruptError(IndexStoreError):
    """A file of the index is missing or damaged."""


class IndexMismatchError(IndexStoreError):
    """The index was built with another embedding model than the one given."""


class IndexLockedError(IndexStoreError):
    """Another process is writing this index."""


class StoreUnavailableError(IndexStoreError):
    """The index's vector store (a Milvus server) cannot be reached or refused a request."""


class MissingExtraError(WendaError, ImportError):
    """An optional feature whose packages are not installed; the message names the extra."""


def missing_extra(feature: str, extra: str, exc: ImportError) -> MissingExtraError:
    """The error for `feature` used without its optional packages, saying how to install them."""
    return MissingExtraError(
        f"{feature} needs the {extra!r} extra ({exc.name or exc}): pip install 'wenda[{extra}]'"
    )


class IndexWriteError(IndexStoreError, OSError):
    """A new generation could not be written (the system refused); the previous one is still live."""


class DiskFullError(IndexWriteError):
    """The disk filled up while a new generation was written; the previous one is still live."""


# Exit statuses of `python -m index` and `python -m qa` (README "Limits and errors").
EXIT_OK = 0  # done (files that could not be read are reported on stderr and skipped)
EXIT_BUG = 1  # an unexpected error: Python's own status for an uncaught exception (a bug; please report it)
EXIT_INPUT = 2  # bad usage or input: arguments, corpus, question, unknown article id, missing input file
EXIT_INDEX = (
    3  # the index cannot be used: missing, damaged, built with another model; or the model cannot load
)
EXIT_WRITE = 4  # nothing was written: another writer holds the index, the disk is full, or the system refused
EXIT_INTERRUPTED = 130  # Ctrl-C


def exit_status(exc: BaseException) -> int:
    """The command-line exit status for an error (see the EXIT_ constants)."""
    if isinstance(exc, (IndexLockedError, IndexWriteError)):
        return EXIT_WRITE
    if isinstance(exc, (IndexStoreError, EmbedderError)):
        return EXIT_INDEX
    if isinstance(exc, (WendaError, ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return EXIT_INPUT
    if isinstance(exc, OSError):
        return EXIT_WRITE
    return EXIT_BUG


def one_line(exc: BaseException) -> str:
    """An error's message on one line (messages may quote multi-line values)."""
    return " ".join(str(exc).split()) or type(exc).__name__
