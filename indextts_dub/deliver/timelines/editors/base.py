"""What every editor-format writer shares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class CannotWrite(Exception):
    """This format cannot hold this timeline; the run goes on and says why in its summary."""


@dataclass(frozen=True)
class EditorFormat:
    name: str
    filename: str
    editors: str
    write: Callable
