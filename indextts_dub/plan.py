"""Stage 3, plan: each line's slot, how far it may run, and the engine speed to ask for.

Per-line rules (the whole-episode planner will replace them):

* a take that fits its slot keeps its natural speed (``fill`` slows it toward the slot,
  never below the lower bound); users hate short lines slowed down;
* a take up to ``snap`` (3 %) too long keeps speed 1.0: the stretcher takes the residual
  without another synthesis pass;
* a longer take gets the speed that brings it to the slot, within ``[lo, hi]``;
* a take that does not fit even at ``hi`` keeps ``hi`` and may run past its cue's end
  into the silence before the same character's next line (``gap`` before it) or the end
  of the programme; only if it would run into that, the stretcher compresses it.

Speech is never cut off.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .casting import Line
from .timebase import SAMPLE_RATE, samples_to_ms

SPEED_BOUNDS = (0.75, 1.25)
MIN_GAP_MS = 80
SNAP = 1.03


@dataclass(frozen=True)
class PlanEntry:
    line: int            # Line.index
    start: int           # samples at 48 kHz
    slot: int            # the cue's length in samples (shortened if the next line of this character starts earlier)
    limit: int           # most samples the clip may take before the character's next line or the programme end
    natural: int         # speech length at speed 1.0, trimmed, samples at 48 kHz
    speed: float         # length ratio wanted from the engine (natural / target); 1.0 = natural take
    target: int          # speech length to aim the engine at, samples
    may_spill: bool      # the line may run past its cue end (up to limit)
    reason: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    entries: list[PlanEntry]
    programme: int | None            # samples; None when only the cues bound it
    bounds: tuple[float, float] = SPEED_BOUNDS
    fill: bool = False
    gap: int = MIN_GAP_MS * SAMPLE_RATE // 1000
    options: dict = field(default_factory=dict)

    def entry(self, line_index: int) -> PlanEntry:
        return self.entries[line_index - 1]


def _ms(n: int) -> str:
    return f"{samples_to_ms(n):.0f} ms"


def plan(lines: list[Line], natural: dict[int, int], programme: int | None = None, *,
         bounds: tuple[float, float] = SPEED_BOUNDS, fill: bool = False, min_gap_ms: int = MIN_GAP_MS,
         snap: float = SNAP) -> Plan:
    """Plan every line. ``natural`` maps ``Line.index`` to its natural speech length in samples.

    ``programme`` (samples) is the hard end, e.g. the video's length; without it the last
    lines may run past the last cue.
    """
    gap = min_gap_ms * SAMPLE_RATE // 1000
    next_start: dict[int, int | None] = {}
    by_char: dict[str, list[Line]] = {}
    for ln in lines:
        by_char.setdefault(ln.character, []).append(ln)
    for group in by_char.values():
        group.sort(key=lambda x: (x.cue.start, x.index))
        for a, b in zip(group, group[1:] + [None]):
            next_start[a.index] = b.cue.start if b is not None else None

    entries = []
    for ln in lines:
        lo, hi = ln.speed_bounds or bounds      # a character or line may narrow the run's bounds
        start, slot = ln.cue.start, ln.cue.length
        n = natural[ln.index]
        ns = next_start[ln.index]
        warnings: list[str] = []
        if ns is not None:
            # spill only up to a gap before the next line; the cue's own slot is kept unless they overlap
            limit = max(ns - gap - start, min(slot, ns - start))
            bound_by = f"{ln.character}'s next line"
        elif programme is not None:
            limit = programme - start
            bound_by = "the end of the programme"
        else:
            limit = max(slot, int(n / hi) + 1)
            bound_by = None
        limit = max(limit, 1)
        slot_eff = min(slot, limit)
        if slot_eff < slot:
            warnings.append(f"slot shortened by {_ms(slot - slot_eff)} so it ends before {bound_by}")
        ratio = n / slot_eff
        if n <= slot_eff:
            if fill and n < slot_eff:
                speed = max(lo, n / slot_eff)
                target = slot_eff if speed > lo else int(round(n / lo))
                reason = f"fill: slowed to {speed:.2f} to fill its {_ms(slot_eff)} slot (natural {_ms(n)})"
            else:
                speed, target = 1.0, n
                reason = f"fits at natural speed ({_ms(n)} in a {_ms(slot_eff)} slot)"
            spill = False
        elif ratio <= snap:
            speed, target, spill = 1.0, slot_eff, False
            reason = f"natural {_ms(n)} is {100 * (ratio - 1):.1f}% over the slot: stretched, no re-synthesis"
        elif ratio <= hi:
            speed, target, spill = ratio, slot_eff, False
            reason = f"needs {ratio:.3f}x to fit {_ms(n)} into {_ms(slot_eff)}: engine speed solved for it"
        else:
            speed, spill = hi, True
            target = min(int(round(n / hi)), limit)
            reason = (f"natural {_ms(n)} needs {ratio:.2f}x for its {_ms(slot_eff)} slot; fastest allowed speed "
                      f"{hi:.2f}, then runs past the cue end" + (f" (up to {bound_by})" if bound_by else ""))
        entries.append(PlanEntry(ln.index, start, slot_eff, limit, n, float(speed), int(target), spill,
                                 reason, tuple(warnings)))
    return Plan(entries, programme, tuple(bounds), fill, gap)
