"""What reading a corpus produced: counts, what was skipped and why, and what was read differently."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class IngestReport:
    """What a corpus read produced.

    `skipped` lists what was left out, with the reason: whole files, single JSONL lines
    (`FILE:LINE`), links, articles whose id an earlier file already gave. `notes` lists what
    was read but not as written: a detected encoding, unterminated front matter read as text,
    a file name cleaned to make an id. `echo`, when set, receives each of them as one line
    the moment it happens (the command line prints them to stderr).
    """

    files: int = 0
    articles: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    echo: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def skip(self, where: str | Path, reason: str) -> None:
        """Record (and echo) something left out of the index, with the reason."""
        self.skipped.append((str(where), reason))
        if self.echo:
            self.echo(f"skipped {where}: {reason}")

    def note(self, where: str | Path, message: str) -> None:
        """Record (and echo) something read differently from how it was written."""
        self.notes.append((str(where), message))
        if self.echo:
            self.echo(f"note: {where}: {message}")

    def nothing_read(self, roots: Sequence[Path]) -> str:
        """The error message for a corpus whose every file was skipped."""
        names = ", ".join(repr(str(r)) for r in roots)
        first = f"; first: {self.skipped[0][0]}: {self.skipped[0][1]}" if self.skipped else ""
        return f"no article could be read from {names} ({len(self.skipped)} skipped{first})"
