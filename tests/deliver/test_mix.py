"""The delivery mix: loudness to target, true peak bounded, the background ducked with
smooth ramps, the output formats; and the options through a whole run (toy engine)."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from support.paths import DEMO, write
from indextts_dub import media
from indextts_dub.deliver import mix as mixing
from indextts_dub.errors import DubError
from indextts_dub.pipeline import dub

SR = 48_000


def speechlike(seconds=6.0, seed=0, level=0.3):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    env = (0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t)) * (np.sin(2 * np.pi * 0.4 * t) > -0.3)
    x = level * env * (np.sin(2 * np.pi * 180 * t) + 0.4 * np.sin(2 * np.pi * 530 * t) + 0.05 * rng.standard_normal(t.size))
    return x.astype(np.float32)


@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_dialogue_is_normalised_to_the_target_and_reported(target):
    stems = {"A": speechlike(seed=1), "B": np.roll(speechlike(seed=2, level=0.1), SR)}
    res = mixing.mix(stems, [(0, 6 * SR)], mixing.MixOptions(loudness=target, true_peak=-0.1))
    measured = pyloudnorm.Meter(SR).integrated_loudness(res.mix.astype(np.float64))
    assert abs(measured - target) < 0.1
    assert res.figures["dialogue_lufs"] == pytest.approx(measured, abs=0.05)
    assert np.allclose(res.mix, res.stems["A"] + res.stems["B"], atol=1e-6)


def test_the_true_peak_ceiling_holds_the_gain_back_and_says_so():
    x = speechlike(level=0.9)
    res = mixing.mix({"A": x}, [(0, x.size)], mixing.MixOptions(loudness=-9.0, true_peak=-1.0))
    assert mixing.true_peak_db(res.mix) <= -1.0 + 0.01
    assert res.figures["dialogue_lufs"] < -9.0
    assert any("true-peak ceiling" in n for n in res.figures["notes"])


def test_true_peak_sees_intersample_peaks():
    n = np.arange(4800)
    x = (0.9 * np.sin(2 * np.pi * (SR / 4) * n / SR + np.pi / 4)).astype(np.float32)   # samples at +-0.636
    assert np.max(np.abs(x)) < 0.64
    assert mixing.true_peak_db(x) > 20 * np.log10(0.85)


def test_short_dialogue_is_left_as_spoken_with_a_note():
    x = speechlike(seconds=0.3)
    res = mixing.mix({"A": x}, [(0, x.size)], mixing.MixOptions())
    assert res.figures["dialogue_measured_lufs"] is None and res.figures["notes"]


def test_duck_envelope_ramps_smoothly_and_bridges_short_pauses():
    env = mixing.duck_envelope([(SR, 2 * SR), (2 * SR + SR // 10, 3 * SR), (6 * SR, 7 * SR)], 9 * SR,
                               attack=SR // 5, release=2 * SR // 5)
    assert env[0] == 0 and env[SR] == 1 and env[int(2.05 * SR)] == 1      # the 100 ms pause stays ducked
    assert env[SR - SR // 5 - 1] == 0 and 0 < env[SR - SR // 10] < 1      # the ramp starts before the speech
    assert np.max(np.abs(np.diff(env))) < 2.0 / (SR // 5)                 # no step: no click
    assert env[3 * SR + 2 * SR // 5 + 1] == 0 and env[5 * SR] == 0


def test_background_is_ducked_under_dialogue():
    n = 6 * SR
    bed = np.tile((0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)).astype(np.float32)[:, None], (1, 2))
    dia = np.zeros(n, np.float32)
    dia[2 * SR:4 * SR] = speechlike(2.0)
    res = mixing.mix({"A": dia}, [(2 * SR, 4 * SR)], mixing.MixOptions(background="original", duck_db=12), bed)
    rms = lambda a: float(np.sqrt(np.mean(a ** 2)))
    ducked, free = rms(res.background[3 * SR - 4800:3 * SR, 0]), rms(res.background[SR - 4800:SR, 0])
    assert 20 * np.log10(ducked / free) == pytest.approx(-12, abs=0.2)
    assert res.mix.shape == (n, 2)
    assert np.allclose(res.mix, res.stems["A"][:, None] + res.background, atol=1e-6)


@pytest.mark.parametrize("fmt, subtype, ext", [("wav16", "PCM_16", ".wav"), ("wav24", "PCM_24", ".wav"),
                                               ("float", "FLOAT", ".wav"), ("flac", "PCM_24", ".flac")])
def test_formats_read_back(tmp_path, fmt, subtype, ext):
    x = speechlike(1.0)
    path = mixing.write_audio(tmp_path / f"a{ext}", x, fmt)
    info = sf.info(path)
    assert (info.samplerate, info.frames, info.subtype) == (SR, x.size, subtype)
    y, _ = sf.read(path, dtype="float32")
    assert np.max(np.abs(y - x)) < (2e-4 if fmt == "wav16" else 1e-5)
    assert not list(tmp_path.glob(".*tmp*"))


def test_bad_mix_options_are_dub_errors():
    for kw, flag in (({"format": "mp3"}, "--format"), ({"loudness": 5.0}, "--loudness"),
                     ({"true_peak": 3.0}, "--true-peak"), ({"duck_db": -3}, "--duck-db")):
        with pytest.raises(DubError) as err:
            mixing.MixOptions(**kw).check()
        assert flag in str(err.value)


# ---------------------------------------------------------------- whole runs with the toy engine

SRT = ("1\n00:00:00,500 --> 00:00:02,000\nAlice: Hello there.\n\n"
       "2\n00:00:02,500 --> 00:00:04,000\n王老师: 你好，我们开始吧。\n\n"
       "3\n00:00:04,200 --> 00:00:05,000\nAlice: This line is far too long for its little slot, really.\n\n"
       "4\n00:00:05,300 --> 00:00:07,000\nAlice: And one more.\n")
CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  王老师: low\n"


class Ran:
    def __init__(self, code, out, err):
        self.returncode, self.stdout, self.stderr = code, out, err


def run_cli(*args, capsys=None, cwd=None):
    """The command line in this process (the toy engine is installed here, not in a child)."""
    from indextts_dub.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    got = capsys.readouterr()
    return Ran(code, got.out, got.err)


def inputs(tmp_path):
    return write(tmp_path / "ep.srt", SRT), write(tmp_path / "cast.yaml", CAST)


def test_original_background_flac_and_loudness_through_a_run(tmp_path, toy_engine):
    srt, cast = inputs(tmp_path)
    out = tmp_path / "out"
    res = dub(srt, cast=cast, video=DEMO / "clip.mp4", out=out,
              mix_options=mixing.MixOptions(loudness=-16.0, background="original", duck_db=10, format="flac"))
    names = sorted(p.name for p in out.iterdir())
    assert {"dub.flac", "background.flac", "dubbed.mp4", "report.html", "timeline.png"} <= set(names)
    assert sorted(p.name for p in (out / "stems").iterdir()) == ["Alice.flac", "王老师.flac"]
    mix, sr = sf.read(out / "dub.flac", dtype="float64")
    bed, _ = sf.read(out / "background.flac", dtype="float64")
    stems = [sf.read(p, dtype="float64")[0] for p in (out / "stems").iterdir()]
    assert mix.shape == (25 * SR, 2) and bed.shape == mix.shape
    assert np.max(np.abs(mix - (np.sum(stems, axis=0)[:, None] + bed))) < 1e-3
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert abs(doc["mix"]["dialogue_lufs"] - (-16.0)) < 0.1 or doc["mix"]["notes"]
    assert doc["mix"]["mix_true_peak_dbtp"] <= -1.0 + 0.01
    assert doc["mix"]["background"]["duck_db"] == 10
    # the dub video's first track is the mix with the bed
    head = subprocess.run([media.ffmpeg_exe(), "-hide_banner", "-i", str(out / "dubbed.mp4")],
                          capture_output=True, text=True).stderr
    assert sum("Audio:" in ln for ln in head.splitlines()) == 2
    assert "Loudness: dialogue" in res.summary


def test_music_and_effects_stem_is_used_and_not_ducked_by_default(tmp_path, toy_engine):
    srt, cast = inputs(tmp_path)
    me = tmp_path / "me.wav"
    tone = (0.05 * np.sin(2 * np.pi * 220 * np.arange(10 * SR) / SR)).astype(np.float32)
    sf.write(me, tone, SR)
    out = tmp_path / "out"
    dub(srt, cast=cast, out=out, mix_options=mixing.MixOptions(background=str(me)))
    bed, _ = sf.read(out / "background.wav", dtype="float32")
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert doc["mix"]["background"]["duck_db"] == 0
    n = min(bed.shape[0], tone.size)
    ratio = bed[:n, 0] / np.where(np.abs(tone[:n]) > 0.01, tone[:n], np.nan)
    assert np.nanstd(ratio) < 1e-3                                         # one gain, no ducking


def test_overflow_policies_and_overlap_tracks_through_a_run(tmp_path, toy_engine, capsys):
    import opentimelineio as otio

    srt, cast = inputs(tmp_path)
    res = run_cli("dub", srt, "--cast", cast, "-o", tmp_path / "flag", "-q", "--overflow", "flag",
                  "--format", "wav16", "--loudness", "off", capsys=capsys)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "flag" / "plan.json").read_text(encoding="utf-8"))
    long = doc["lines"][2]
    assert long["overrun_ms"] > 0 and not long["compressed"] and abs(long["speed"] - 1.25) < 1e-3
    assert any("overruns" in w for w in long["warnings"]) and "overrun" in res.stdout
    assert doc["plan"]["overflow"] == "flag" and doc["mix"]["loudness_target_lufs"] is None
    assert sf.info(tmp_path / "flag" / "dub.wav").subtype == "PCM_16"
    edits = json.loads((tmp_path / "flag" / "retime.json").read_text())["edits"]
    assert edits and edits[0]["lines"] == [3] and edits[0]["factor"] > 1
    tl = otio.adapters.read_from_file(str(tmp_path / "flag" / "timeline.otio"))
    names = [t.name for t in tl.tracks]
    assert "Alice (overlap 1)" in names                     # the overrun overlaps Alice's next line
    res = run_cli("dub", srt, "--cast", cast, "-o", tmp_path / "shift", "-q", "--overflow", "shift", capsys=capsys)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "shift" / "plan.json").read_text(encoding="utf-8"))
    assert doc["lines"][3]["delay_samples"] > 0


def test_retime_video_renders_a_slower_picture_the_dub_fits(tmp_path, toy_engine, capsys):
    srt, cast = inputs(tmp_path)
    out = tmp_path / "out"
    res = run_cli("dub", srt, "--cast", cast, "--video", DEMO / "clip.mp4", "-o", out, "-q",
                  "--overflow", "flag", "--retime-video", capsys=capsys)
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    retime = doc["video_retime"]
    assert retime["applied"] and retime["edits"]
    extra = sum(e["extra_samples"] for e in retime["edits"])
    assert doc["programme_samples"] == 25 * SR + extra
    assert all(r["overrun_samples"] == 0 for r in doc["lines"])
    video = media.probe(out / "dubbed.mp4")
    assert abs(video.duration - (25 * SR + extra)) <= SR // 25 + 1          # within a frame
    assert sf.info(out / "dub.wav").frames == doc["programme_samples"]
    assert not [p for p in out.iterdir() if p.name.startswith(".indextts-dub-staging")]


@pytest.mark.parametrize("args, message", [
    (["--background", "nope.wav"], "nope.wav: --background: file not found"),
    (["--background", "original"], "--background: 'original' needs --video"),
    (["--retime-video"], "--retime-video: needs --video"),
    (["--loudness", "loud"], "--loudness: 'loud' is not a number"),
    (["--true-peak", "2"], "--true-peak"),
    (["--compress-cap", "1.1"], "--compress-cap"),
])
def test_bad_options_exit_2_and_write_nothing(tmp_path, toy_engine, args, message, capsys, monkeypatch):
    srt, cast = inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    res = run_cli("dub", srt, "--cast", cast, "-o", tmp_path / "out", "-q", *args, capsys=capsys)
    assert res.returncode == 2 and message in res.stderr
    assert not (tmp_path / "out").exists()


def test_per_line_planner_through_a_run(tmp_path, toy_engine):
    srt, cast = inputs(tmp_path)
    res = dub(srt, cast=cast, out=tmp_path / "out", planner="per-line")
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert doc["plan"]["method"] == "per-line" and res.plan.method == "per-line"
    assert all(r["clip"]["start"] == r["slot"]["start"] for r in doc["lines"])     # no lead-in per line
    with pytest.raises(DubError, match="--planner"):
        dub(srt, cast=cast, out=tmp_path / "out2", planner="greedy")


def test_pan_places_a_character_in_a_stereo_mix_with_unity_centre():
    from indextts_dub.deliver.mix import MixOptions, mix, pan_gains

    assert pan_gains(0.0) == pytest.approx((1.0, 1.0))
    assert pan_gains(1.0) == pytest.approx((0.0, 2 ** 0.5), abs=1e-9)
    assert pan_gains(-1.0) == pytest.approx((2 ** 0.5, 0.0), abs=1e-9)
    l, r = pan_gains(0.5)
    assert l ** 2 + r ** 2 == pytest.approx(2.0)                      # equal power
    n = 48_000 * 2
    t = np.arange(n) / 48_000
    a = (0.1 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    b = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    mono = mix({"A": a, "B": b}, [(0, n)], MixOptions(loudness=None))
    assert mono.mix.ndim == 1 and not mono.figures["pans"]
    stereo = mix({"A": a, "B": b}, [(0, n)], MixOptions(loudness=None), pans={"A": -1.0, "B": 0.0})
    assert stereo.mix.shape == (n, 2) and stereo.figures["pans"] == {"A": -1.0}
    g = 10 ** (stereo.dialogue_gain_db / 20)
    assert np.allclose(stereo.mix[:, 0], (a * 2 ** 0.5 + b) * g, atol=1e-6)
    assert np.allclose(stereo.mix[:, 1], b * g, atol=1e-6)
