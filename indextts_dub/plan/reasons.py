"""Each plan entry's reason in words (:attr:`PlanEntry.reason`) and its warnings."""
from __future__ import annotations

import numpy as np

from ..timebase import SAMPLE_RATE, samples_to_ms, timecode
from .model import PlanOptions
from .structure import Episode


def _ms(n: float) -> str:
    return f"{samples_to_ms(n):.0f} ms"


def _s(n: float) -> str:
    return f"{n / SAMPLE_RATE:.2f} s"


def _who_bounds(ep: Episode, i: int, start: np.ndarray, gap: int, programme: int | None) -> str:
    """What the line's end runs up against, in words."""
    cands = []
    j = ep.next_same[i]
    if j is not None:
        cands.append((int(start[j]) - gap, f"{ep.chars[i]}'s next line"))
    elif programme is not None:
        cands.append((programme, "the end of the programme"))
    for k in ep.cross[i]:
        cands.append((int(start[k]), f"{ep.chars[k]}'s line at {timecode(int(start[k]))}"))
    if not cands:
        return "nothing"
    return min(cands)[1]


def explain(ep: Episode, i: int, start, speech, limits, overrun, opts: PlanOptions, programme: int | None,
            speeds: np.ndarray) -> tuple[str, list[str]]:
    """Why line ``i`` (in plan order) got its speed and place, in words, and its warnings."""
    n = int(ep.n[i])
    slot = int(ep.ce[i] - ep.cs[i])
    s = float(speeds[i])
    lo, hi = float(ep.lo[i]), float(ep.hi[i])
    gap = opts.min_gap_ms * SAMPLE_RATE // 1000
    lead = int(ep.cs[i] - start[i])
    end = int(start[i] + speech[i])
    spill = max(0, end - int(ep.ce[i]))
    warnings: list[str] = []
    parts: list[str] = []
    if n == 0:
        return "the engine gave no speech for this line", ["no speech to place"]
    room = int(limits[i] - max(start[i], ep.cs[i] - opts.lead_in_ms * SAMPLE_RATE // 1000))
    fits_natural = n <= room
    need = n / max(slot, 1)
    if abs(s - 1) < 5e-4:
        if n <= slot:
            parts.append(f"fits at natural speed ({_s(n)} of speech in a {_s(slot)} cue)")
        else:
            parts.append(f"natural speed: {_s(n)} of speech for a {_s(slot)} cue")
    elif s < 1:
        parts.append(f"slowed to {s:.2f}x to fill its {_s(slot)} cue (fill; natural {_s(n)}, slowest {lo:.2f}x)")
    else:
        if n <= slot or fits_natural:
            neigh = [f"{word} {speeds[k]:.2f}x" for k, word in ((ep.prev_same[i], "previous"), (ep.next_same[i], "next"))
                     if k is not None]
            close = f"to stay close to {ep.chars[i]}'s neighbouring lines ({', '.join(neigh)})" if neigh else ""
            if n <= slot:
                parts.append(f"sped up to {s:.2f}x though it fits its cue at natural speed" + (f", {close}" if close else ""))
            else:
                parts.append(f"{_s(n)} of speech for a {_s(slot)} cue: spoken at {s:.2f}x rather than borrow all the "
                             "silence around the cue it would need at natural speed" + (f", and {close}" if close else ""))
        else:
            parts.append(f"{_s(n)} of speech for a {_s(slot)} cue (needs {need:.2f}x on its own): spoken at {s:.2f}x")
    if lead > 0:
        parts.append(f"starts {_ms(lead)} early")
    if lead < 0:
        parts.append(f"starts {_ms(-lead)} late to make room for the line before (overflow: {opts.overflow})")
        warnings.append(f"shifted {_ms(-lead)} after its cue")
    if spill > 0:
        parts.append(f"runs {_ms(spill)} past its cue end")
    if s > hi + 1e-4:
        parts.append(f"faster than the {hi:.2f}x bound: even then it would not fit before "
                     f"{_who_bounds(ep, i, start, gap, programme)} (overflow: compress, cap {opts.cap:.2f}x)")
        warnings.append(f"compressed to {s:.2f}x, beyond the {hi:.2f}x bound")
    elif s > 1 and abs(s - hi) < 2e-3 and not fits_natural:
        parts.append(f"at the fastest allowed speed ({hi:.2f}x)")
    if overrun[i] > 0:
        what = _who_bounds(ep, i, start, gap, programme)
        parts.append(f"still {_ms(overrun[i])} too long: overruns {what} (overflow: {opts.overflow})")
        warnings.append(f"overruns {what} by {_ms(overrun[i])}")
    elif spill > 0 and end >= limits[i] - 1:
        parts.append(f"up to {_who_bounds(ep, i, start, gap, programme)}")
    return "; ".join(parts), warnings
