"""The episode as arrays, in plan order: what the solver and the reasons read."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..lines import Line
from ..timebase import SAMPLE_RATE
from .model import PlanOptions, line_bounds


@dataclass
class Episode:
    """The lines as arrays, in plan order (by cue start)."""

    order: list[int]               # positions into `lines`
    cs: np.ndarray                 # cue start, samples (plan time)
    ce: np.ndarray                 # cue end
    n: np.ndarray                  # natural samples
    lo: np.ndarray
    hi: np.ndarray
    chars: list[str]
    next_same: list[int | None]    # position (in order) of the same character's next line
    prev_same: list[int | None]
    cross: list[list[int]]         # later lines of other characters this one must end before


def structure(lines: list[Line], natural: Mapping[int, int], opts: PlanOptions, cue_times=None) -> Episode:
    order = sorted(range(len(lines)), key=lambda k: (lines[k].cue.start, lines[k].index))
    ls = [lines[k] for k in order]
    if cue_times is None:
        cs = np.array([ln.cue.start for ln in ls], np.int64)
        ce = np.array([ln.cue.end for ln in ls], np.int64)
    else:
        cs = np.array([cue_times[ln.index][0] for ln in ls], np.int64)
        ce = np.array([cue_times[ln.index][1] for ln in ls], np.int64)
    n = np.array([max(0, int(natural[ln.index])) for ln in ls], np.int64)
    lb = [line_bounds(ln, opts) for ln in ls]
    lo = np.array([b[0] for b in lb], float)
    hi = np.array([b[1] for b in lb], float)
    chars = [ln.character for ln in ls]
    next_same: list[int | None] = [None] * len(ls)
    prev_same: list[int | None] = [None] * len(ls)
    last: dict[str, int] = {}
    for i, ch in enumerate(chars):
        if ch in last:
            next_same[last[ch]] = i
            prev_same[i] = last[ch]
        last[ch] = i
    cross: list[list[int]] = [[] for _ in ls]
    if not opts.allow_cross_overlap:
        # for each line and each other character: that character's first line whose cue starts at or
        # after this cue's end (its later lines are chained behind it). Lines whose cues already
        # overlap this one were written to overlap, and may.
        #
        # Only lines that could start before the first of them are needed: a line whose cue starts
        # more than lead-in + the longest delay after that first one's cue always starts after it,
        # so "end before the first" already keeps this line off it (the same overrun variable in
        # both). That bounds the scan by time, whatever the number of characters: without it a
        # film of many characters with few lines each had one constraint per line and character.
        lead = opts.lead_in_ms * SAMPLE_RATE // 1000
        delay = opts.max_shift_ms * SAMPLE_RATE // 1000 if opts.overflow in ("shift", "compress") else 0
        starts = cs
        nchars = len(set(chars))
        for i in range(len(ls)):
            seen: set[str] = {chars[i]}
            j = int(np.searchsorted(starts, ce[i], side="left"))
            # the latest this line can end: its character's next line, else far away
            horizon = starts[next_same[i]] + lead if next_same[i] is not None else None
            window_end = None
            while j < len(ls):
                if horizon is not None and starts[j] - lead > horizon:
                    break
                if window_end is not None and starts[j] > window_end:
                    break
                if chars[j] not in seen:
                    if window_end is None:
                        window_end = starts[j] + lead + delay
                    seen.add(chars[j])
                    cross[i].append(j)
                    if len(seen) == nchars:
                        break
                j += 1
    return Episode(order, cs, ce, n, lo, hi, chars, next_same, prev_same, cross)
