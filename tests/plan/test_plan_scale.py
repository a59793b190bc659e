"""Planning cost independent of the number of characters: the couplings the solve leaves out
(other characters' lines past the first one a line can reach, one character's lines too far
apart to meet or to smooth) change nothing in the plan."""
from __future__ import annotations

import random

import numpy as np
import pytest

from indextts_dub.cues import Cue
from indextts_dub.lines import Line
from indextts_dub.plan import PlanOptions, plan
from indextts_dub.plan import episode
from indextts_dub.plan.structure import structure

SR = 48_000


def many_characters(n=400, characters=120, seed=3):
    """Dialogue in which most characters speak a few times, minutes apart; tight and overlapping cues."""
    rng = random.Random(seed)
    lines, nat, t = [], {}, 1.0
    for i in range(1, n + 1):
        dur = rng.uniform(0.6, 4.0)
        cue = Cue(i, str(i), int(t * SR), int((t + dur) * SR), "x", file="f.srt", line=4 * i)
        lines.append(Line(i, cue, f"C{rng.randrange(characters)}", "v", "en", "x", "x"))
        nat[i] = int(dur * rng.uniform(0.6, 1.6) * SR)
        t += dur + rng.choice([-0.3, 0.0, 0.05, 0.2, 0.5, 2.0])
    return lines, nat


def every_cross(ep, opts):
    """The cross constraints without the time window: each other character's first line whose cue
    starts at or after this cue's end, up to this character's next line."""
    lead = opts.lead_in_ms * SR // 1000
    out = []
    for i in range(len(ep.cs)):
        seen, row = {ep.chars[i]}, []
        horizon = ep.cs[ep.next_same[i]] + lead if ep.next_same[i] is not None else None
        for j in range(int(np.searchsorted(ep.cs, ep.ce[i], side="left")), len(ep.cs)):
            if horizon is not None and ep.cs[j] - lead > horizon:
                break
            if ep.chars[j] not in seen:
                seen.add(ep.chars[j])
                row.append(j)
        out.append(row)
    return out


@pytest.mark.parametrize("overflow", ["compress", "shift", "flag"])
def test_left_out_couplings_change_nothing(monkeypatch, overflow):
    lines, nat = many_characters()
    opts = PlanOptions(overflow=overflow)
    ep = structure(lines, nat, opts)
    full = every_cross(ep, opts)
    assert sum(map(len, ep.cross)) * 5 < sum(map(len, full))            # the window leaves most out
    lean = episode._solve(ep, opts, None)
    ep.cross = full

    def keep_all(cs, ce, n, tmax, a, b, *rest):
        return np.zeros(a.size, bool), np.ones(a.size, bool)

    monkeypatch.setattr(episode, "_couplings", keep_all)
    whole = episode._solve(ep, opts, None)
    # the same optimum, to the solver's tolerance: a few samples where a lead-in of under a
    # millisecond weighs next to nothing in the objective
    assert np.abs(lean.delta - whole.delta).max() < 5 / SR
    assert np.abs(lean.t - whole.t).max() < 1e-4             # the tempo grid plans are kept on
    assert np.abs(lean.overrun - whole.overrun).max() < 5 / SR
    assert plan(lines, nat).entries        # and the stage as a whole runs on it
