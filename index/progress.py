"""Progress of a build or an update, reported step by step to a callback.

The command line shows tqdm bars; a server shows the same counts on its start page and its
admin page through `on_progress`, a callable that receives one `Progress` per change.
Callbacks run on the writer's thread and must be quick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Stage = Literal["read", "chunk", "embed", "write"]
STAGES: tuple[Stage, ...] = ("read", "chunk", "embed", "write")


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units of one stage: files read, articles chunked, chunks embedded, generation written."""

    stage: Stage
    done: int
    total: int


OnProgress = Callable[[Progress], None]


def report(on_progress: OnProgress | None, stage: Stage, done: int, total: int) -> None:
    """Tell `on_progress` (when there is one) that `done` of `total` units of `stage` are finished."""
    if on_progress is not None:
        on_progress(Progress(stage, done, total))


__all__ = ["STAGES", "OnProgress", "Progress", "Stage", "report"]
