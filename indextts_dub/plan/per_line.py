"""The per-line fitting most dubbing tools do, kept as the baseline the episode planner is
measured against (``benchmarks/plan_bench.py``, ``tests/plan/``); ``--planner per-line``
selects it.

Each line on its own: a take that fits its cue keeps natural speed; a longer one gets the
speed that brings it to the cue, within the bounds; one that does not fit even at the
fastest speed runs past its cue end into the silence before the same character's next
line (keeping the gap) or the programme end, and only past that is compressed. No line
starts early; neighbouring lines are not looked at, so speeds jump from line to line.
"""
from __future__ import annotations

from typing import Mapping

from ..lines import Line
from ..timebase import SAMPLE_RATE, samples_to_ms
from .model import Plan, PlanEntry, PlanOptions, line_bounds

def plan_per_line(lines: list[Line], natural: Mapping[int, int], programme: int | None = None,
                  options: PlanOptions | None = None) -> Plan:
    """Plan each line on its own (see the module docstring); the arguments are :func:`.episode.plan`'s."""
    opts = options or PlanOptions()
    opts.check()
    gap = opts.min_gap_ms * SAMPLE_RATE // 1000
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
        lo, hi = line_bounds(ln, opts)
        start, slot = ln.cue.start, ln.cue.length
        n = int(natural[ln.index])
        ns = next_start[ln.index]
        warnings: list[str] = []
        if ns is not None:
            limit = max(ns - gap - start, min(slot, ns - start))
        elif programme is not None:
            limit = programme - start
        else:
            limit = max(slot, int(n / hi) + 1)
        limit = max(limit, 1)
        slot_eff = min(slot, limit)
        if n <= slot_eff:
            if opts.fill and n < slot_eff:
                speech = min(slot_eff, int(round(n / lo)))
                reason = "fill: slowed toward its slot"
            else:
                speech = n
                reason = "fits at natural speed"
        elif n / slot_eff <= hi:
            speech = slot_eff
            reason = f"needs {n / slot_eff:.3f}x to fit its slot"
        else:
            speech = min(int(round(n / hi)), limit)
            reason = f"needs {n / slot_eff:.2f}x; fastest allowed {hi:.2f}x, then runs past the cue end"
            if n / max(speech, 1) > hi + 1e-4:
                warnings.append(f"compressed to {n / speech:.2f}x ({samples_to_ms(int(n / hi) - speech):.0f} ms "
                                "too long for the room before the next line)")
        speech = max(speech, 1)
        length = max(speech, slot_eff)
        entries.append(PlanEntry(index=ln.index, start=start, length=length, speech_samples=speech, natural=n,
                                 speed=n / speech if n else 1.0, cue_start=ln.cue.start, cue_end=ln.cue.end,
                                 limit=start + limit, bounds=(lo, hi), spill=max(0, start + speech - ln.cue.end),
                                 compressed=n / speech > hi + 1e-4, reason=reason, warnings=tuple(warnings)))
    return Plan(entries, programme, opts.bounds, opts.fill, gap, opts, method="per-line")
