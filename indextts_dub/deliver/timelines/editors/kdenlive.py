"""``editor/timeline.kdenlive``: an MLT/Kdenlive project for Kdenlive before 25.04 (25.04
and later open the ``.otio`` copy natively) and for melt.

Written by ``otio-kdenlive-adapter`` from the frame-rate copy. The adapter drops what it
cannot write without keeping its place (a nested stack inside a track would pull every
later clip earlier), so such items are written as gaps of the same length, and the
summary says so. Track markers are not written; timeline markers become guides.
"""
from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

from ....fsio import write_text
from .base import CannotWrite
from .fcp7 import _replace_nested

EDITORS = "Kdenlive before 25.04 (25.04+ opens the .otio), melt, Shotcut"


def to_string(ctx) -> str:
    import opentimelineio as otio

    obj = copy.deepcopy(ctx.obj)
    _replace_nested(obj, ctx.notes, "editor/timeline.kdenlive")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return otio.adapters.write_to_string(obj, adapter_name="kdenlive")
    except Exception as exc:
        raise CannotWrite(f"the kdenlive adapter cannot write this timeline ({type(exc).__name__}: {exc})") from None


def write(ctx, path: Path) -> None:
    write_text(path, to_string(ctx))
