"""More room for one line without moving any other: how far its speech may grow after the plan.

A planned line's :attr:`~.model.PlanEntry.limit` is the latest end it could have without
overrunning: the same character's next line (less the gap), the next line of another character
it may not overlap, the programme end. The whole-episode plan trades a little speed against
borrowing silence, so a sped-up line often has room left before that limit. :func:`slower`
gives the line that room (``--qa retry`` asks for it when a rushed line was not understood);
every other line keeps its place and length.
"""
from __future__ import annotations

from dataclasses import replace

from ..timebase import SAMPLE_RATE
from .model import PlanEntry

SLOWEST = 0.9          # a line is never slowed past this tempo for room (nor past its own lower bound)
WORTH = 1.05           # ... and only when its speech grows by at least this much


def slower(entry: PlanEntry, slowest: float = SLOWEST) -> PlanEntry | None:
    """``entry`` with its speech as long as the room up to its limit allows, down to the tempo
    ``slowest`` (or the line's lower speed bound, whichever is faster); None when that gains
    under :data:`WORTH`. The clip grows with the speech; its start does not move."""
    if entry.natural <= 0 or entry.speech_samples <= 0:
        return None
    tempo = max(slowest, entry.bounds[0])
    room = entry.limit - entry.start
    speech = min(int(entry.natural / tempo), room)
    if speech < WORTH * entry.speech_samples:
        return None
    speed = entry.natural / speech
    ms = (speech - entry.speech_samples) * 1000 // SAMPLE_RATE
    reason = f"{entry.reason}; slowed to {speed:.2f}x for --qa retry, {ms} ms more of the room before its limit"
    warnings = tuple(w for w in entry.warnings if not w.startswith("compressed to")) \
        if speed <= entry.bounds[1] + 1e-4 else entry.warnings
    return replace(entry, speech_samples=speech, length=max(entry.length, speech), speed=speed,
                   spill=max(0, entry.start + speech - entry.cue_end), compressed=speed > entry.bounds[1] + 1e-4,
                   reason=reason, warnings=warnings)
