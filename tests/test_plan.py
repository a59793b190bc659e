"""The per-line plan: natural speed when it fits, engine speed within bounds, spill, compress."""
from __future__ import annotations

from indextts_dub.casting import Line
from indextts_dub.cues import Cue
from indextts_dub.plan import plan

SR = 48_000


def line(i, start_s, end_s, who="A"):
    cue = Cue(i, str(i), int(start_s * SR), int(end_s * SR), "x", file="t.srt", line=i * 4)
    return Line(i, cue, who, "jf_alpha", "en", "x", "x")


def test_fits_at_natural_speed_and_is_never_slowed_by_default():
    p = plan([line(1, 0, 3)], {1: 2 * SR})
    e = p.entries[0]
    assert (e.speed, e.target, e.slot, e.may_spill) == (1.0, 2 * SR, 3 * SR, False)


def test_fill_slows_toward_the_slot_within_bounds():
    e = plan([line(1, 0, 3)], {1: int(2.7 * SR)}, fill=True).entries[0]
    assert abs(e.speed - 0.9) < 1e-9 and e.target == 3 * SR
    e = plan([line(1, 0, 3)], {1: 1 * SR}, fill=True).entries[0]
    assert e.speed == 0.75                      # never below the lower bound


def test_small_overrun_is_left_to_the_stretcher():
    e = plan([line(1, 0, 2)], {1: int(2.04 * SR)}).entries[0]
    assert e.speed == 1.0 and e.target == 2 * SR and not e.may_spill


def test_overrun_within_bounds_asks_for_speed():
    e = plan([line(1, 0, 2)], {1: int(2.4 * SR)}).entries[0]
    assert abs(e.speed - 1.2) < 1e-9 and e.target == 2 * SR


def test_beyond_bounds_spills_up_to_the_same_characters_next_line():
    lines = [line(1, 0, 2, "A"), line(2, 2.1, 3, "B"), line(3, 5, 6, "A")]
    p = plan(lines, {1: 4 * SR, 2: SR // 2, 3: SR // 2})
    e = p.entries[0]
    assert e.speed == 1.25 and e.may_spill
    assert e.limit == 5 * SR - p.gap            # another character's line does not bound it
    assert e.target == int(4 * SR / 1.25)


def test_programme_end_bounds_the_last_line():
    e = plan([line(1, 0, 2)], {1: 4 * SR}, programme=int(2.5 * SR)).entries[0]
    assert e.limit == int(2.5 * SR)


def test_overlapping_lines_of_one_character_shorten_the_slot():
    lines = [line(1, 0, 3, "A"), line(2, 2, 4, "A")]
    e = plan(lines, {1: SR, 2: SR}).entries[0]
    assert e.slot == 2 * SR and e.warnings


def test_custom_bounds():
    e = plan([line(1, 0, 2)], {1: int(2.4 * SR)}, bounds=(0.9, 1.1)).entries[0]
    assert e.speed == 1.1 and e.may_spill
