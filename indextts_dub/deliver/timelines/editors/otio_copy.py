"""``editor/timeline.otio``: the master with its dub tracks at the frame rate."""
from __future__ import annotations

from pathlib import Path

EDITORS = "DaVinci Resolve 18.5+, Kdenlive 25.04+, Hiero/Nuke Studio, Flame, OpenRV"


def write(ctx, path: Path) -> None:
    from ....cues.otio_json import dump

    from ....fsio import write_text

    write_text(path, dump(ctx.doc))
