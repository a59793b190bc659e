"""Picture edits where the dub cannot fit: ranges of the source picture to slow, and where a
source sample lands in the retimed picture."""
from __future__ import annotations

import math

from ..lines import Line
from .model import RetimeEdit
from .structure import Episode


def edits(ep: Episode, lines: list[Line], speech, overrun, compressed) -> list[RetimeEdit]:
    """Picture ranges to slow so overrunning (or over-compressed) lines fit at their bound."""
    raw = []
    for i in range(len(ep.cs)):
        want = int(math.ceil(ep.n[i] / ep.hi[i]))     # speech length at the fastest allowed speed
        extra = int(overrun[i]) + max(0, want - int(speech[i])) if (overrun[i] > 0 or compressed[i]) else 0
        if extra <= 0:
            continue
        a, b = int(ep.cs[i]), int(max(ep.ce[i], ep.cs[i] + 1))
        raw.append([a, b, extra, [lines[ep.order[i]].index]])
    raw.sort()
    merged: list[list] = []
    for a, b, extra, idx in raw:
        if merged and a < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            merged[-1][2] += extra
            merged[-1][3] += idx
        else:
            merged.append([a, b, extra, idx])
    return [RetimeEdit(a, b, (b - a + extra) / (b - a), extra, tuple(idx)) for a, b, extra, idx in merged]


def retime_map(edits: tuple[RetimeEdit, ...] | list[RetimeEdit], t: int) -> int:
    """Where source sample ``t`` lands in the retimed picture (piecewise linear, exact to the sample)."""
    shift = 0
    for e in edits:
        if t >= e.end:
            shift += e.extra
        elif t > e.start:
            return t + shift + (t - e.start) * e.extra // (e.end - e.start)
        else:
            break
    return t + shift
