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
