"""--qa: fitted clips heard by Whisper base (the qa extra) and scored; results in plan.json, the
timeline metadata, the report and the summary; cached for re-runs; a missing extra exits 3."""
from __future__ import annotations

import json
import sys

import pytest

from support.paths import run_cli, write
from indextts_dub import cli, qa
from indextts_dub.pipeline import dub
from indextts_dub.qa import hearing

pytest.importorskip("faster_whisper")

SRT = ("1\n00:00:00,500 --> 00:00:03,500\nAlice: Good morning, everyone. Let's begin.\n\n"
       "2\n00:00:04,000 --> 00:00:07,000\n王老师：早上好，我们开始上课吧。\n")
CAST = "characters:\n  Alice: kokoro:af_heart\n  王老师: kokoro:zm_yunjian\n"


def test_native_voices_are_heard_as_written_and_the_results_land_everywhere(tmp_path, monkeypatch):
    srt, cast = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST)
    res = dub(srt, cast=cast, out=tmp_path / "out", qa="check")
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    en, zh = (ln["qa"] for ln in doc["lines"])
    assert en["score"] <= 0.15 and "morning" in en["heard"].lower() and en["passed"] and en["attempts"] == 1
    assert zh["score"] <= 0.15 and zh["passed"], zh
    # predicted listening quality (DNSMOS P.835 overall, from the speechmos wheel): clean speech
    assert all(2.0 <= q["mos"] <= 5.0 for q in (en, zh)), (en, zh)
    otio = json.loads((tmp_path / "out" / "timeline.otio").read_text(encoding="utf-8"))
    assert '"heard"' in json.dumps(otio, ensure_ascii=False)
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "heard / error" in html and 'id="only-failed"' in html and "failed the check by ear" in html
    assert ">MOS</th>" in html and 'class="num mos"' in html and "predicted MOS" in html
    assert "Heard by Whisper: 2 of 2 lines pass" in res.summary
    # a re-run with nothing changed hears nothing again: the verdicts come from the cache
    calls = []
    monkeypatch.setattr(qa.ear, "hear", lambda clips, *a, **k: calls.append(len(clips)) or [])
    again = dub(srt, cast=cast, out=tmp_path / "out", qa="check")
    assert calls == [] and [c.qa for c in again.clips] == [c.qa for c in res.clips]
    # an edited line is heard again, alone
    monkeypatch.undo()
    write(tmp_path / "e.srt", SRT.replace("Let's begin.", "Let's start."))
    third = dub(srt, cast=cast, out=tmp_path / "out", qa="check")
    assert "start" in third.clips[0].qa["heard"].lower() and third.clips[1].qa == res.clips[1].qa


def test_speech_that_is_not_the_line_fails_and_is_flagged(tmp_path, toy_engine):
    srt = write(tmp_path / "e.srt", "1\n00:00:00,500 --> 00:00:02,500\nAlice: Hello there, how are you?\n")
    res = dub(srt, cast=write(tmp_path / "cast.yaml", "engine: toy\ncharacters:\n  Alice: toy:high\n"),
              out=tmp_path / "out", qa="check", qa_threshold=0.3)
    q = res.clips[0].qa
    assert not q["passed"] and q["score"] > 0.3 and q["threshold"] == 0.3
    assert any(w.startswith("QA: heard") for w in res.clips[0].warnings)
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'class="qa-fail"' in html and "(failed)" in html


def test_without_the_qa_extra_the_run_stops_with_exit_3_and_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)        # as if it were not installed
    monkeypatch.setattr(hearing, "_loaded", {})
    srt = write(tmp_path / "e.srt", "1\n00:00:00,500 --> 00:00:02,500\nAlice: Hello.\n")
    rc = cli.main(["dub", str(srt), "--voice", "af_heart", "-o", str(tmp_path / "out"), "-q", "--qa"])
    err = capsys.readouterr().err
    assert rc == 3 and "pip install 'indextts-dub[qa]'" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "plan.json").exists()


def test_bad_qa_flags_exit_2():
    res = run_cli("dub", "x.srt", "--qa", "--qa-threshold", "1.5", "-o", "nowhere", "-q")
    assert res.returncode == 2 and "--qa-threshold: must lie between 0 and 1" in res.stderr


def _ear_for_the_toy_engine(clips, *_, **__):
    """A stand-in for Whisper that 'hears' the toy engine: its tone says the line, noise says nothing."""
    import numpy as np

    out = []
    for c in clips:
        spectrum = np.abs(np.fft.rfft(c.audio))
        tonal = spectrum.max() > 30 * spectrum.mean()
        out.append(c.line.speech_text if tonal else "static")
    return out


def test_retry_replaces_a_broken_take_and_flags_what_it_cannot_fix(tmp_path, toy_engine, monkeypatch):
    monkeypatch.setattr(qa.ear, "hear", _ear_for_the_toy_engine)
    srt = write(tmp_path / "e.srt", "1\n00:00:00,500 --> 00:00:02,500\nAlice: A garbled line.\n\n"
                                    "2\n00:00:03,000 --> 00:00:05,000\nAlice: A hopeless line.\n\n"
                                    "3\n00:00:05,500 --> 00:00:07,500\nAlice: A good line.\n")
    cast = write(tmp_path / "cast.yaml", "engine: toy\ncharacters:\n  Alice: toy:high\n")
    checked = dub(srt, cast=cast, out=tmp_path / "out", qa="check")
    assert [c.qa["passed"] for c in checked.clips] == [False, False, True]
    res = dub(srt, cast=cast, out=tmp_path / "out", qa="retry")
    fixed, hopeless, good = res.clips
    # slower (the room before line 2) is still noise; another seed fixes it
    assert fixed.qa["passed"] and fixed.qa["attempts"] == 3 and fixed.qa["kept"] == "seed +1"
    assert not any(w.startswith("QA:") for w in fixed.warnings)
    assert not hopeless.qa["passed"] and hopeless.qa["attempts"] == 4 and "kept" not in hopeless.qa
    assert any(w.startswith("QA: heard 'static'") for w in hopeless.warnings)
    assert good.qa == checked.clips[2].qa and good.audio.tobytes() == checked.clips[2].audio.tobytes()
    assert fixed.length == checked.clips[0].length and fixed.start == checked.clips[0].start   # same slot
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert [ln["qa"]["attempts"] for ln in doc["lines"]] == [3, 4, 1]
    # retries are takes like any other: a re-run finds them in the cache and asks the engine nothing
    again = dub(srt, cast=cast, out=tmp_path / "out", qa="retry")
    assert again.facts.synthesis_calls == 0 and [c.qa for c in again.clips] == [c.qa for c in res.clips]


def test_numbers_and_abbreviations_have_another_reading():
    from indextts_dub.qa.retry import spelled

    assert spelled("See you at 3 PM, 2.5 km away.", "en") == "See you at three P. M., two point five km away."
    assert spelled("三点见", "zh") == "三点见"


def test_retry_slows_a_rushed_line_into_the_room_before_its_limit(tmp_path, toy_engine, monkeypatch):
    monkeypatch.setattr(qa.ear, "hear", _ear_for_the_toy_engine)
    # a 1.2 s cue for about 2.5 s of speech, the next line 5 s later: the plan speeds it up a little
    # rather than borrow all the silence; a rushed take is noise (the toy engine's failure)
    srt = write(tmp_path / "e.srt", "1\n00:00:00,500 --> 00:00:01,700\nAlice: This rushed line has many words.\n\n"
                                    "2\n00:00:06,500 --> 00:00:08,500\nAlice: A good line.\n")
    cast = write(tmp_path / "cast.yaml", "engine: toy\ncharacters:\n  Alice: toy:high\n")
    checked = dub(srt, cast=cast, out=tmp_path / "out", qa="check")
    first = checked.clips[0]
    assert first.speed > 1.02 and not first.qa["passed"]
    res = dub(srt, cast=cast, out=tmp_path / "out", qa="retry")
    fixed, good = res.clips
    assert fixed.qa["passed"] and fixed.qa["kept"].startswith("slower") and fixed.qa["attempts"] == 2
    assert fixed.speed < first.speed and fixed.speech_samples > first.speech_samples
    assert fixed.start == first.start and fixed.end <= fixed.entry.limit < good.start      # no other line moved
    assert good.start == checked.clips[1].start and good.audio.tobytes() == checked.clips[1].audio.tobytes()
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert "for --qa retry" in doc["lines"][0]["reason"]


def _ear_that_fails_af_heart(clips, *_, **__):
    return ["static" if c.line.voice == "af_heart" else c.line.speech_text for c in clips]


def test_retry_gives_another_voice_only_where_the_cast_allows_it(tmp_path, monkeypatch):
    monkeypatch.setattr(qa.ear, "hear", _ear_that_fails_af_heart)
    srt = write(tmp_path / "e.srt", "1\n00:00:00,500 --> 00:00:03,500\nAlice: Good morning.\n\n"
                                    "2\n00:00:04,000 --> 00:00:07,000\nBea: Good evening.\n")
    cast = write(tmp_path / "cast.yaml", "characters:\n  Alice:\n    voice: kokoro:af_heart\n    qa: {other_voice: true}\n"
                                         "  Bea: kokoro:af_bella\n")
    res = dub(srt, cast=cast, out=tmp_path / "out", qa="retry")
    alice = res.clips[0]
    # af_bella is Bea's: the next US English female voice in the engine's order is af_nicole;
    # the built-in engine is deterministic: no other seed is tried
    assert alice.qa["passed"] and alice.qa["kept"] == "another voice (af_nicole)" and alice.line.voice == "af_nicole"
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert doc["lines"][0]["voice"].endswith("af_nicole")
    # without qa.other_voice the voice stays and the line stays flagged
    write(tmp_path / "cast.yaml", "characters:\n  Alice: kokoro:af_heart\n  Bea: kokoro:af_bella\n")
    res = dub(srt, cast=cast, out=tmp_path / "out2", qa="retry")
    assert res.clips[0].line.voice == "af_heart" and not res.clips[0].qa["passed"]
    from indextts_dub.engines.kokoro import KokoroEngine
    from indextts_dub.qa.retry import alternatives

    # what it tried: only the calmer tempo (the line has room); no seeds, the engine is deterministic
    assert [a.what for a in alternatives(res.clips[0], KokoroEngine.describe())] == ["slower (0.90x, more room)"]
    assert res.clips[0].qa["attempts"] == 2


@pytest.mark.parametrize("value, message", [
    ("qa: yes", "characters.Alice.qa: must be a mapping, like 'qa: {other_voice: true}'"),
    ("qa: {other_voice: maybe}", "characters.Alice.qa.other_voice: must be true or false (got 'maybe')"),
    ("qa: {other_vioce: true}", "characters.Alice.qa.other_vioce: unknown field; known: other_voice"),
])
def test_a_bad_qa_field_in_the_cast_exits_2_naming_it(tmp_path, value, message):
    srt = write(tmp_path / "e.srt", "1\n00:00:00,500 --> 00:00:02,500\nAlice: Hello.\n")
    cast = write(tmp_path / "cast.yaml", f"characters:\n  Alice:\n    voice: kokoro:af_heart\n    {value}\n")
    res = run_cli("dub", str(srt), "--cast", str(cast), "-o", str(tmp_path / "out"), "-q")
    assert res.returncode == 2 and f"{cast}:4: {message}" in res.stderr and "Traceback" not in res.stderr


def test_the_fitted_window_and_the_loop_test():
    assert hearing.Hearing.window(16_000) == hearing.MIN_FRAMES            # a 1 s clip: 10 s window
    assert hearing.Hearing.window(16_000 * 14) == 1500                     # 14 s + 1 s, in whole seconds
    assert hearing.Hearing.window(16_000 * 40) == hearing.FRAMES           # never past Whisper's 30 s
    assert hearing._looping("Turn left at the second light. " * 6) and not hearing._looping("Turn left at the light.")


def test_predicted_listening_quality_tells_speech_from_noise():
    import numpy as np
    from indextts_dub.qa import mos

    assert mos.model_file() is not None and mos.model_file().name == "sig_bak_ovr.onnx"
    assert mos.windows(np.ones(16_000, np.float32)).shape == (1, mos.WINDOW)         # repeated to one window
    assert mos.windows(np.ones(mos.WINDOW + 2 * 16_000, np.float32)).shape == (3, mos.WINDOW)
    noise = mos.score(0.3 * np.random.default_rng(0).standard_normal(3 * 16_000).astype(np.float32))
    assert noise["ovrl"] < 1.6 and set(noise) == {"sig", "bak", "ovrl"}
    assert mos.score(np.zeros(0, np.float32)) is None
