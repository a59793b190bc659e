"""plan.slower: more room for one line up to its limit, never past it, its start unmoved."""
from __future__ import annotations

from indextts_dub.plan import PlanEntry, slower


def entry(**kw) -> PlanEntry:
    base = dict(index=1, start=48_000, length=96_000, speech_samples=96_000, natural=120_000, speed=1.25,
                cue_start=48_000, cue_end=144_000, limit=200_000, bounds=(0.75, 1.25), reason="at the fastest")
    return PlanEntry(**(base | kw))


def test_a_rushed_line_gets_the_room_before_its_limit():
    e = slower(entry(warnings=("compressed to 1.30x, beyond the 1.25x bound", "other")))
    assert e.start == 48_000 and e.speech_samples == 133_333 and e.length == 133_333   # 0.9x natural
    assert abs(e.speed - 0.9) < 1e-4 and e.spill == 48_000 + 133_333 - 144_000
    assert "slowed to 0.90x for --qa retry" in e.reason and e.warnings == ("other",) and not e.compressed


def test_the_limit_bounds_it_and_too_little_room_is_no_alternative():
    e = slower(entry(limit=160_000))
    assert e.speech_samples == 112_000 and e.speech_end == 160_000             # up to the limit, not past it
    assert slower(entry(limit=48_000 + 98_000)) is None                        # 2 % more: not worth a take
    assert slower(entry(natural=0)) is None
    assert slower(entry(bounds=(0.95, 1.25))).speech_samples == int(120_000 / 0.95)   # the line's own slowest bound
