"""Errors a user can act on: every one names the file, the line and the field it is about."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    file: str | None
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line:                     # None or 0: a file without lines (AAF, EDL)
            where += f":{self.line}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class DubError(Exception):
    """An input problem (or several) that stops the run before anything is written.

    ``str()`` gives one line per problem, each starting ``file:line: field:``.
    """

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, file: str | Path | None, line: int | None, field: str | None, message: str) -> "DubError":
        return cls(Problem(str(file) if file is not None else None, line, field, message))


@dataclass
class Problems:
    """Collects problems so a user sees all of them at once, not one per run."""

    items: list[Problem] = field(default_factory=list)

    def add(self, file, line, field_, message) -> None:
        self.items.append(Problem(str(file) if file is not None else None, line, field_, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise DubError(self.items)


class SystemFault(Exception):
    """The machine refused something a run needs (a full disk, a read-only folder, a failed
    rename): one line saying what failed and where. The command line exits 3."""
