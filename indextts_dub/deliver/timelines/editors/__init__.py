"""Editor copies of a dubbed timeline, one module per format.

| format   | file                     | for |
| -------- | ------------------------ | --- |
| otio     | editor/timeline.otio     | DaVinci Resolve 18.5+, Kdenlive 25.04+, Hiero/Nuke Studio, Flame, OpenRV, Premiere (beta) |
| otioz    | editor/timeline.otioz    | the same, media inside one file (Resolve imports it directly) |
| fcp7     | editor/timeline.xml      | Premiere Pro, DaVinci Resolve (File > Import > Timeline), Final Cut Pro 7 |
| kdenlive | editor/timeline.kdenlive | Kdenlive before 25.04, and melt / Shotcut (MLT) |

Every copy has the dub tracks at the timeline's frame rate (:mod:`..framesnap`).
EDL (CMX 3600) is not offered: it carries no audio tracks of this kind (OpenTimelineIO's EDL
adapter drops them) and no per-clip metadata.
"""
from __future__ import annotations

from ....errors import DubError


from .base import CannotWrite, EditorFormat
from . import fcp7, kdenlive, otio_copy, otioz

__all__ = ["ALIASES", "FORMATS", "NAMES", "CannotWrite", "EditorFormat", "resolve"]

FORMATS: dict[str, EditorFormat] = {
    "otio": EditorFormat("otio", "timeline.otio", otio_copy.EDITORS, otio_copy.write),
    "otioz": EditorFormat("otioz", "timeline.otioz", otioz.EDITORS, otioz.write),
    "fcp7": EditorFormat("fcp7", "timeline.xml", fcp7.EDITORS, fcp7.write),
    "kdenlive": EditorFormat("kdenlive", "timeline.kdenlive", kdenlive.EDITORS, kdenlive.write),
}
NAMES = tuple(FORMATS)
ALIASES = {"xml": "fcp7", "fcp": "fcp7", "fcp_xml": "fcp7", "premiere": "fcp7", "resolve": "otio"}


def resolve(names) -> list[str]:
    """The formats to write: all by default; ``none`` for none; names or aliases otherwise."""
    if names is None:
        return list(NAMES)
    out = []
    for n in names:
        key = ALIASES.get(n.strip().lower(), n.strip().lower())
        if key in ("none", ""):
            continue
        if key == "edl":
            raise DubError.at(None, None, "--editor-copies", "EDL cannot carry the dub: CMX 3600 EDLs hold no "
                                                             "audio tracks of this kind and no clip metadata; use "
                                                             "fcp7 (Premiere, Resolve) or otio")
        if key not in NAMES:
            raise DubError.at(None, None, "--editor-copies", f"unknown format {n!r}; known: {', '.join(NAMES)}, none")
        if key not in out:
            out.append(key)
    return out
