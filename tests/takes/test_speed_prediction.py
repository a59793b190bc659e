"""One-shot speed prediction: the engine's length as a function of its speed knob, learned per
voice and language from the takes already made (kept with the take cache); at most one render
beside the natural take per line; what a run cost in plan.json."""
from __future__ import annotations

import json

import pytest

from support.paths import write
from indextts_dub.pipeline import dub
from indextts_dub.takes import synthesizer
from indextts_dub.takes.cache import SPEED_MODEL, DIRNAME

TEXTS = ["Hello there, how are you today?", "Shall we start the meeting now?", "This one is long for its slot.",
         "We need to finish before Friday.", "Where did you put the keys, Bob?", "The train leaves at seven."]
OTHER = ["Could you say that again, please?", "I have never seen anything like it.", "Keep your voice down now.",
         "That was the best meal of the year.", "Honestly, I expected much more.", "Stop right there, all of you!"]
STAGES = {"read_inputs", "natural_takes", "plan", "fitted_clips", "deliver"}


def tight_episode(folder, texts, squeeze: float = 0.82):
    """Slots shorter than the toy engine's natural reading (0.08 s per character)."""
    blocks, t = [], 500
    for i, text in enumerate(texts, start=1):
        d = int(80 * len(text) * squeeze)
        blocks.append(f"{i}\n00:00:{t // 1000:02d},{t % 1000:03d} --> 00:00:{(t + d) // 1000:02d},{(t + d) % 1000:03d}\n"
                      f"{'Alice' if i % 2 else 'Bob'}: {text}\n")
        t += d + 1500
    return write(folder / "e.srt", "\n".join(blocks))


def test_prediction_inverts_the_length_model():
    for share in (0.0, 0.25, 0.4):
        for ratio in (0.8, 1.1, 1.3):
            s = synthesizer.predict_speed(ratio, share)
            natural = 10_000
            length = natural * (share + (1 - share) / s)
            assert abs(natural / length - ratio) < 1e-9
            assert abs(synthesizer.observed_share(natural, s, round(length)) - share) < 1e-3
    assert synthesizer.observed_share(10_000, 1.01, 9_950) is None       # too close to 1 to tell


def test_one_render_per_line_beside_the_natural_and_the_model_learned(tmp_path, toy_engine):
    cast = write(tmp_path / "cast.yaml", "engine: toy\ncharacters:\n  Alice: high\n  Bob: low\n"
                                         "fit: {speed_min: 0.7, speed_max: 1.4}\n")
    out = tmp_path / "out"
    first = dub(tight_episode(tmp_path, TEXTS), cast=cast, out=out)
    sped = [c for c in first.clips if c.passes == 2]
    assert len(sped) >= 4                                        # the slots really are tight
    assert max(c.passes for c in first.clips) <= 2
    assert first.facts.synthesis_calls == len(first.clips) + len(sped)
    summary = json.loads((out / "plan.json").read_text(encoding="utf-8"))["summary"]
    assert summary["synthesis_calls"] == first.facts.synthesis_calls
    assert summary["synthesis_calls_per_line"] == pytest.approx(first.facts.synthesis_calls / len(first.clips), abs=1e-3)
    assert set(summary["stage_seconds"]) == STAGES and all(v >= 0 for v in summary["stage_seconds"].values())

    # the toy engine keeps 30 % of its length fixed (a little more once the trim margins count)
    model = json.loads((out / DIRNAME / SPEED_MODEL).read_text(encoding="utf-8"))
    shares = [v for vs in model.values() for v in vs]
    assert len(shares) == len(sped) and all(0.29 < v < 0.36 for v in shares)

    # nothing changed: the chosen takes are re-used although the model moved since
    assert dub(tight_episode(tmp_path, TEXTS), cast=cast, out=out).facts.synthesis_calls == 0

    # new lines are predicted with the learned share: each lands on its target in one render
    second = dub(tight_episode(tmp_path, OTHER), cast=cast, out=out)
    again = [c for c in second.clips if c.passes == 2 and 0.7 < c.engine_speed < 1.4]
    assert len(again) >= 4
    assert all(abs(c.residual - 1) < 0.01 for c in again), [c.residual for c in again]
    before = [abs(c.residual - 1) for c in sped if 0.7 < c.engine_speed < 1.4]
    after = [abs(c.residual - 1) for c in again]
    assert sum(after) / len(after) < 0.5 * sum(before) / len(before)     # the prior was further off


def test_a_natural_take_within_the_engine_tolerance_is_kept(tmp_path, toy_engine):
    """A line whose natural take is within the engine's tolerance of its planned length keeps that
    take (one engine call, the stretch does the rest); a line further off gets its one render."""
    cast = write(tmp_path / "cast.yaml", "engine: toy\ncharacters:\n  Alice: high\n  Bob: low\n"
                                         "fit: {speed_min: 0.7, speed_max: 1.4}\n")
    tol = toy_engine.ToyEngine.describe().speed_tolerance
    kept, rendered = [], []
    for squeeze in (0.9, 0.8):
        res = dub(tight_episode(tmp_path, TEXTS + OTHER, squeeze), cast=cast, out=tmp_path / f"out{squeeze}")
        for c in res.clips:
            off = abs(c.natural / c.speech_samples - 1) if c.speech_samples else 0.0
            if c.passes == 1:
                assert c.engine_speed == 1.0 and c.natural / c.speech_samples <= 1 + tol + 1e-9
                if off > 1e-6:
                    kept.append(c)
                    assert c.residual == pytest.approx(c.natural / c.speech_samples)   # the stretch did it
            else:
                assert c.passes == 2 and c.natural / c.speech_samples > 1 + tol
                rendered.append(c)
        assert res.facts.synthesis_calls == len(res.clips) + sum(1 for c in res.clips if c.passes == 2)
    assert kept and rendered, (len(kept), len(rendered))
