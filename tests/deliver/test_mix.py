"""The delivery mix: loudness to target, true peak bounded, the background ducked with
smooth ramps, the output formats; block by block exactly as over whole arrays (pyloudnorm's
figure, the dither, the ducking), in memory that does not follow the programme; and the options
through a whole run (toy engine)."""
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


class Mixed:
    """What the block-by-block mix wrote, read back as whole arrays."""

    def __init__(self, result, figures, stems, mix, background):
        self.result, self.figures, self.stems, self.mix, self.background = result, figures, stems, mix, background
        self.dialogue_gain_db = result.dialogue_gain_db


def run_mix(tmp_path, stems, speech, options, bed=None, pans=None):
    """mix() and render() over whole stems (each one clip at 0), written as float WAV and read back."""
    from dataclasses import replace

    options = replace(options, format="float")
    n = next(iter(stems.values())).shape[0]
    placed = mixing.Dialogue(n, {ch: [(0, x)] for ch, x in stems.items()}, pans)
    background = mixing.Bed(array=bed) if bed is not None else None
    res = mixing.mix(placed, speech, options, background)
    targets = mixing.Targets({ch: tmp_path / f"{ch}.wav" for ch in stems}, tmp_path / "mix.wav",
                             tmp_path / "bed.wav" if bed is not None else None)
    figures = mixing.render(placed, res, options, targets, background)
    read = lambda p: sf.read(p, dtype="float32")[0]
    return Mixed(res, figures, {ch: read(p) for ch, p in targets.stems.items()}, read(targets.mix),
                 read(targets.background) if bed is not None else None)


def speechlike(seconds=6.0, seed=0, level=0.3):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    env = (0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t)) * (np.sin(2 * np.pi * 0.4 * t) > -0.3)
    x = level * env * (np.sin(2 * np.pi * 180 * t) + 0.4 * np.sin(2 * np.pi * 530 * t) + 0.05 * rng.standard_normal(t.size))
    return x.astype(np.float32)


@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_dialogue_is_normalised_to_the_target_and_reported(target, tmp_path):
    stems = {"A": speechlike(seed=1), "B": np.roll(speechlike(seed=2, level=0.1), SR)}
    res = run_mix(tmp_path, stems, [(0, 6 * SR)], mixing.MixOptions(loudness=target, true_peak=-0.1))
    measured = pyloudnorm.Meter(SR).integrated_loudness(res.mix.astype(np.float64))
    assert abs(measured - target) < 0.1
    assert res.figures["dialogue_lufs"] == pytest.approx(measured, abs=0.05)
    assert np.allclose(res.mix, res.stems["A"] + res.stems["B"], atol=1e-6)


def test_the_true_peak_ceiling_holds_the_gain_back_and_says_so(tmp_path):
    x = speechlike(level=0.9)
    res = run_mix(tmp_path, {"A": x}, [(0, x.size)], mixing.MixOptions(loudness=-9.0, true_peak=-1.0))
    assert mixing.true_peak_db(res.mix) <= -1.0 + 0.01
    assert res.figures["dialogue_lufs"] < -9.0
    assert any("true-peak ceiling" in n for n in res.figures["notes"])


def test_true_peak_sees_intersample_peaks():
    n = np.arange(4800)
    x = (0.9 * np.sin(2 * np.pi * (SR / 4) * n / SR + np.pi / 4)).astype(np.float32)   # samples at +-0.636
    assert np.max(np.abs(x)) < 0.64
    assert mixing.true_peak_db(x) > 20 * np.log10(0.85)


def test_short_dialogue_is_left_as_spoken_with_a_note(tmp_path):
    x = speechlike(seconds=0.3)
    res = run_mix(tmp_path, {"A": x}, [(0, x.size)], mixing.MixOptions())
    assert res.figures["dialogue_measured_lufs"] is None and res.figures["notes"]


def test_duck_envelope_ramps_smoothly_and_bridges_short_pauses():
    env = mixing.duck_envelope([(SR, 2 * SR), (2 * SR + SR // 10, 3 * SR), (6 * SR, 7 * SR)], 9 * SR,
                               attack=SR // 5, release=2 * SR // 5)
    assert env[0] == 0 and env[SR] == 1 and env[int(2.05 * SR)] == 1      # the 100 ms pause stays ducked
    assert env[SR - SR // 5 - 1] == 0 and 0 < env[SR - SR // 10] < 1      # the ramp starts before the speech
    assert np.max(np.abs(np.diff(env))) < 2.0 / (SR // 5)                 # no step: no click
    assert env[3 * SR + 2 * SR // 5 + 1] == 0 and env[5 * SR] == 0


def test_background_is_ducked_under_dialogue(tmp_path):
    n = 6 * SR
    bed = np.tile((0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)).astype(np.float32)[:, None], (1, 2))
    dia = np.zeros(n, np.float32)
    dia[2 * SR:4 * SR] = speechlike(2.0)
    res = run_mix(tmp_path, {"A": dia}, [(2 * SR, 4 * SR)], mixing.MixOptions(background="original", duck_db=12), bed)
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


# ---------------------------------------------------------------- block by block, as whole arrays

def real_dialogue():
    """Real speech (the demo's reference clips, resampled to 48 kHz) placed with silence between,
    crossing block boundaries: (character -> [(start, audio)], programme length)."""
    from indextts_dub import audio

    voices = []
    for path in (DEMO / "voices" / "mei.wav", DEMO / "clips" / "mei_excited.wav"):
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        voices.append(audio.resample(x.mean(axis=1), sr, SR))
    placed = {"A": [(mixing.BLOCK - SR, voices[0]), (3 * mixing.BLOCK + 1234, voices[1])],
              "B": [(mixing.BLOCK - 2 * SR, 0.5 * voices[1]), (3 * mixing.BLOCK, voices[0])]}
    return placed, 5 * mixing.BLOCK + 777


def whole(placed, n):
    out = {ch: np.zeros(n, np.float32) for ch in placed}
    for ch, clips in placed.items():
        for start, x in clips:
            if start < n:
                out[ch][start:start + x.size] += x[: n - start]
    return out


@pytest.mark.parametrize("pans", [None, {"A": -0.5}])
def test_loudness_block_by_block_is_pyloudnorm_on_real_speech(pans):
    placed, n = real_dialogue()
    dialogue = mixing.Dialogue(n, placed, pans)
    meter = mixing.Loudness(dialogue.channels)
    for a in range(0, n, 7919):                     # blocks of any size, none aligned to the gating blocks
        b = min(n, a + 7919)
        meter.add(dialogue.sum(dialogue.stems(a, b), b - a))
    full = dialogue.sum(dialogue.stems(0, n), n)
    expected = pyloudnorm.Meter(SR).integrated_loudness(full)
    assert meter.value() == pytest.approx(expected, abs=1e-9)
    assert mixing.loudness(full) == pytest.approx(expected, abs=1e-9)


def test_loudness_does_not_filter_long_silences_and_gives_the_same_figure(monkeypatch):
    """A stem is mostly silence between its character's lines: the K-weighting filters only the
    first RING samples of a long silence (after them it has rung out), not all of it down into
    subnormal numbers, and the figure is exactly the one of filtering everything."""
    placed, _ = real_dialogue()
    stem = placed["A"][0][1]                      # one line of real speech
    sparse = np.zeros(120 * SR, np.float32)
    for at in (3 * SR, 47 * SR, 95 * SR):          # three lines, long silences between them
        sparse[at: at + stem.size] += stem
    filtered = []
    meter = mixing.Loudness(1)
    real = meter._lfilter
    monkeypatch.setattr(meter, "_lfilter", lambda b, a, y, **kw: filtered.append(y.shape[0]) or real(b, a, y, **kw))
    for a in range(0, sparse.size, mixing.BLOCK):
        meter.add(sparse[a: a + mixing.BLOCK])
    value = meter.value()
    assert sum(filtered) <= 2 * (3 * (stem.size + SR // 2) + mixing.BLOCK)   # two filters each
    monkeypatch.setattr(mixing, "RING", 10 ** 12, raising=False)       # filter every sample, as before
    assert value == mixing.loudness(sparse)
    assert value == pytest.approx(pyloudnorm.Meter(SR).integrated_loudness(sparse.astype(np.float64)), abs=1e-9)


def test_loudness_of_a_real_mix_with_its_bed_is_pyloudnorm():
    bed = mixing.read_background("original", 25 * SR, str(DEMO / "clip.mp4"))
    assert bed.shape == (25 * SR, 2) and np.any(bed)
    placed, _ = real_dialogue()
    dia = whole(placed, 25 * SR)
    the_mix = 0.5 * bed + (dia["A"] + dia["B"])[:, None]
    expected = pyloudnorm.Meter(SR).integrated_loudness(the_mix.astype(np.float64))
    assert mixing.loudness(the_mix) == pytest.approx(expected, abs=1e-9)
    assert mixing.loudness(np.zeros(SR)) is None and mixing.loudness(np.ones(SR // 4)) is None


def test_true_peak_block_by_block_agrees_with_the_whole_array():
    import soxr

    placed, n = real_dialogue()
    dia = whole(placed, n)
    x = 3.0 * (dia["A"] + dia["B"])
    up = soxr.resample(x, SR, 4 * SR, quality="VHQ")
    expected = 20 * np.log10(max(np.max(np.abs(up)), np.max(np.abs(x))))
    assert mixing.true_peak_db(x) == pytest.approx(expected, abs=0.01)


def test_ducking_block_by_block_is_the_whole_envelope():
    speech = [(SR, 2 * SR), (2 * SR + 100, 3 * SR), (mixing.BLOCK - 10, mixing.BLOCK + 5000), (3 * mixing.BLOCK, 4 * SR + 3 * mixing.BLOCK)]
    n = 4 * mixing.BLOCK
    duck = mixing.Ducking(speech, n, SR // 5, 2 * SR // 5)
    full = duck.block(0, n)
    parts = np.concatenate([duck.block(a, min(n, a + 12345)) for a in range(0, n, 12345)])
    assert np.array_equal(full, parts) and full.max() == 1


@pytest.mark.parametrize("channels, n", [(1, 123_457), (2, 100_001), (1, 100_000)])
def test_dither_block_by_block_is_one_whole_draw(channels, n):
    rng = np.random.default_rng(0)
    shape = (n,) if channels == 1 else (n, channels)
    whole_draw = (rng.random(shape, np.float32) - rng.random(shape, np.float32)) * (1.0 / 32768)
    dither = mixing.Dither(n * channels)
    zeros = np.zeros(shape, np.float32)
    parts = np.concatenate([dither(zeros[a:a + 9999]) for a in range(0, n, 9999)])
    assert np.array_equal(parts, whole_draw)


def test_render_writes_what_whole_arrays_would(tmp_path):
    """Stems and a stereo mix with a bed, written block by block (clips across block edges,
    two clips of one character overlapping), equal the whole-array sums at the same gains."""
    placed, n = real_dialogue()
    placed["A"].append((3 * mixing.BLOCK + 5000, 0.25 * placed["B"][0][1]))        # overlaps A's own clip
    t = np.arange(n) / SR
    bed = np.stack([0.05 * np.sin(2 * np.pi * 220 * t), 0.05 * np.sin(2 * np.pi * 330 * t)], 1).astype(np.float32)
    speech = [(s, s + x.size) for clips in placed.values() for s, x in clips]
    opts = mixing.MixOptions(background="original", duck_db=12, format="float")
    dialogue = mixing.Dialogue(n, placed)
    res = mixing.mix(dialogue, speech, opts, mixing.Bed(array=bed))
    targets = mixing.Targets({ch: tmp_path / f"{ch}.wav" for ch in placed}, tmp_path / "mix.wav", tmp_path / "bed.wav")
    figures = mixing.render(dialogue, res, opts, targets, mixing.Bed(array=bed))
    stems = whole(placed, n)
    for ch in placed:
        assert np.array_equal(sf.read(targets.stems[ch], dtype="float32")[0], (stems[ch] * res.gain).astype(np.float32))
    env = mixing.duck_envelope(speech, n, SR // 5, 2 * SR // 5)
    ducked = (bed * np.power(10.0, -12 * env / 20.0).astype(np.float32)[:, None] * res.bed_gain).astype(np.float32)
    assert np.array_equal(sf.read(targets.background, dtype="float32")[0], ducked)
    dia = ((stems["A"].astype(np.float64) + stems["B"]) * res.gain).astype(np.float32)
    mix_read = sf.read(targets.mix, dtype="float32")[0]
    assert np.array_equal(mix_read, dia[:, None] + ducked)
    expected = pyloudnorm.Meter(SR).integrated_loudness(mix_read.astype(np.float64))
    assert figures["mix_lufs"] == pytest.approx(expected, abs=0.006)
    assert figures["dialogue_lufs"] == pytest.approx(-23.0, abs=0.01)
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_long_programme_with_a_large_cast_is_mixed_in_memory_of_one_block(tmp_path):
    """30 characters over 4 minutes (whole stems would be 30 x 46 MB, the float64 dialogue
    another 92 MB): the mix's own allocations stay within a few blocks."""
    import tracemalloc

    n = 4 * 60 * SR
    line = speechlike(2.0)
    placed = {f"C{k}": [(k * 7 * SR + j * 50 * SR, line) for j in range(4)] for k in range(30)}
    dialogue = mixing.Dialogue(n, {ch: [(s % (n - line.size), x) for s, x in v] for ch, v in placed.items()})
    opts = mixing.MixOptions(format="flac")
    tracemalloc.start()
    try:
        res = mixing.mix(dialogue, [], opts)
        targets = mixing.Targets({ch: tmp_path / f"{ch}.flac" for ch in placed}, tmp_path / "mix.flac")
        figures = mixing.render(dialogue, res, opts, targets)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sf.info(targets.mix).frames == n and figures["dialogue_lufs"] == pytest.approx(-23.0, abs=0.01)
    assert peak < 64 * 1024 ** 2, f"{peak / 1024 ** 2:.0f} MB"          # about 40 MB: a few 10 s blocks


def test_the_bed_is_read_through_ffmpeg_padded_and_cut(tmp_path):
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(3 * SR) / SR)).astype(np.float32)
    sf.write(tmp_path / "me.wav", np.stack([tone, -tone], 1), SR, subtype="FLOAT")
    bed = mixing.Bed.from_options(str(tmp_path / "me.wav"), None)
    with bed.reader(5 * SR) as read:
        got = np.concatenate([read(SR + 1) for _ in range(6)])
    assert got.shape == (5 * SR, 2)
    assert np.allclose(got[:3 * SR, 0], tone, atol=1e-6) and np.allclose(got[:3 * SR, 1], -tone, atol=1e-6)
    assert not np.any(got[3 * SR:])
    with bed.reader(SR) as read:                    # a bed longer than the programme: cut, ffmpeg stopped
        assert read(2 * SR).shape == (SR, 2)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(DubError, match="bad.wav: --background: cannot read its audio"):
        with mixing.Bed.from_options(str(tmp_path / "bad.wav"), None).reader(SR) as read:
            read(SR)


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


def test_a_run_keeps_takes_and_clips_on_disk_not_in_memory(tmp_path, toy_engine):
    """Every fitted clip (and take) of a run waits in the run's spill, read back when needed:
    what the API returns still gives each clip's audio, equal to its file at the mix gain."""
    from indextts_dub import audio

    srt, cast = inputs(tmp_path)
    out = tmp_path / "out"
    res = dub(srt, cast=cast, out=out)
    assert all(isinstance(c.stored, audio.Spilled) for c in res.clips)
    gain = 10 ** (res.facts.gain_db / 20)
    for c in res.clips:
        x, _ = sf.read(out / "clips" / f"{c.line.index:04d}_{'Alice' if c.line.character == 'Alice' else '王老师'}.wav",
                       dtype="float32")
        assert x.size == c.length and np.max(np.abs(x - np.clip(c.audio * gain, -1, 1))) < 1e-6
    assert not [p for p in out.rglob("*") if ".tmp" in p.name or p.name.startswith(".indextts-dub-staging")]


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


def test_pan_places_a_character_in_a_stereo_mix_with_unity_centre(tmp_path):
    from indextts_dub.deliver.mix import MixOptions, pan_gains

    assert pan_gains(0.0) == pytest.approx((1.0, 1.0))
    assert pan_gains(1.0) == pytest.approx((0.0, 2 ** 0.5), abs=1e-9)
    assert pan_gains(-1.0) == pytest.approx((2 ** 0.5, 0.0), abs=1e-9)
    l, r = pan_gains(0.5)
    assert l ** 2 + r ** 2 == pytest.approx(2.0)                      # equal power
    n = 48_000 * 2
    t = np.arange(n) / 48_000
    a = (0.1 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    b = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    (tmp_path / "m").mkdir()
    (tmp_path / "s").mkdir()
    mono = run_mix(tmp_path / "m", {"A": a, "B": b}, [(0, n)], MixOptions(loudness=None))
    assert mono.mix.ndim == 1 and not mono.figures["pans"]
    stereo = run_mix(tmp_path / "s", {"A": a, "B": b}, [(0, n)], MixOptions(loudness=None), pans={"A": -1.0, "B": 0.0})
    assert stereo.mix.shape == (n, 2) and stereo.figures["pans"] == {"A": -1.0}
    g = 10 ** (stereo.dialogue_gain_db / 20)
    assert np.allclose(stereo.mix[:, 0], (a * 2 ** 0.5 + b) * g, atol=1e-6)
    assert np.allclose(stereo.mix[:, 1], b * g, atol=1e-6)
