"""Real consumers of the timelines, run headless: melt renders the .kdenlive copy, Blender's
sequencer imports the dub timeline through the add-on and mixes it down (and dubs a scene's
text strips), and the built-in Kokoro engine dubs the demo against an editor timeline.
Onsets are measured in the rendered audio against the plan."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from support.paths import DEMO, REPO, write
from indextts_dub import dub, timebase
from indextts_dub.deliver.timelines import render as otio_render
from indextts_dub.cues.timeline_in import TimelineOptions, open_timeline
from support.timeline_helpers import (RATES, TOY_CAST, TOY_CUES, first_above, make_srt, make_timeline, make_video, onsets,
                              planned_onsets, write_otio)

ADDON = REPO / "plugins" / "blender" / "indextts_dub_blender"
needs_melt = pytest.mark.skipif(shutil.which("melt") is None, reason="melt not installed (tests/setup-debian.sh)")
needs_blender = pytest.mark.skipif(shutil.which("blender") is None, reason="blender not installed (tests/setup-debian.sh)")


def _dubbed_cut(tmp_path, label, cues=TOY_CUES):
    rate = RATES[label]
    frames = int(12 * rate)
    video = make_video(tmp_path / "pic.mp4", rate, frames)
    cut = write_otio(make_timeline(rate, frames, video), tmp_path / "cut.otio")
    res = dub(make_srt(tmp_path / "ep.srt", cues), timeline=cut, cast=write(tmp_path / "cast.yaml", TOY_CAST),
              out=tmp_path / "out")
    return rate, frames, res


def _mono(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32")
    assert sr == 48000
    return x.mean(axis=1) if x.ndim > 1 else x


@needs_melt
@pytest.mark.parametrize("label", ["23.976", "29.97"])
def test_melt_renders_the_kdenlive_copy(label, tmp_path, toy_engine):
    rate, frames, res = _dubbed_cut(tmp_path, label)
    out = tmp_path / "out"
    wav = tmp_path / "melt.wav"
    proc = subprocess.run(["melt", str(out / "editor" / "timeline.kdenlive"), f"out={frames - 1}",
                           "-consumer", f"avformat:{wav}", "ar=48000", "ac=1", "acodec=pcm_f32le", "vn=1",
                           "video_off=1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    x = _mono(wav)
    frame = int(timebase.samples_per_frame(rate)) + 1
    assert abs(x.size - timebase.frame_to_sample(frames, rate)) <= frame
    exp = planned_onsets(res, out)
    got = onsets(x, exp, 2 * frame)
    assert all(g is not None and abs(g - e) <= frame for g, e in zip(got, exp)), (exp, got)


def _blender(tmp_path, env: dict) -> dict:
    scripts = tmp_path / "blender_scripts"
    (scripts / "addons").mkdir(parents=True)
    shutil.copytree(ADDON, scripts / "addons" / "indextts_dub_blender")
    report = tmp_path / "report.json"
    full = dict(os.environ, BLENDER_USER_SCRIPTS=str(scripts), REPORT=str(report),
                INDEXTTS_DUB_SITE=sysconfig.get_paths()["purelib"], **env)
    proc = subprocess.run(["blender", "-b", "--factory-startup", "--addons", "indextts_dub_blender",
                           "--python-exit-code", "1", "--python", str(REPO / "tests" / "support" / "blender_script.py")],
                          capture_output=True, text=True, env=full, timeout=600)
    assert proc.returncode == 0 and report.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(report.read_text(encoding="utf-8"))


@needs_blender
def test_blender_imports_the_dub_timeline_frame_exact(tmp_path, toy_engine):
    rate, frames, res = _dubbed_cut(tmp_path, "23.976")
    out = tmp_path / "out"
    mix = tmp_path / "blender_mix.wav"
    rep = _blender(tmp_path, {"MODE": "import", "DUB_TIMELINE": str(out / "timeline.otio"), "MIX_OUT": str(mix)})
    assert rep["result"] == ["FINISHED"]
    assert rep["fps"][0] == 24 and abs(rep["fps"][1] - 1.001) < 1e-6
    sounds = [s for s in rep["strips"] if s["type"] == "SOUND"]
    by_line = {c.line.index: c for c in res.clips}
    assert sorted(s["name"] for s in sounds) == sorted(f"{c.line.index:04d} {c.line.character}: {c.line.text}"
                                                       for c in res.clips)
    channel = {}
    for s in sounds:
        c = by_line[int(s["name"][:4])]
        channel.setdefault(c.line.character, set()).add(s["channel"])
        assert s["frame"] == 1 + timebase.frame_at(c.start, rate)                 # the scene starts at frame 1
        assert Path(s["file"]).parent == out / "editor" / "media"
    assert all(len(v) == 1 for v in channel.values()) and len({min(v) for v in channel.values()}) == len(channel)
    x = _mono(mix)
    frame = int(timebase.samples_per_frame(rate)) + 1
    exp = planned_onsets(res, out)
    got = onsets(x, exp, 2 * frame)
    assert all(g is not None and abs(g - e) <= frame for g, e in zip(got, exp)), (exp, got)


@needs_blender
def test_blender_dubs_the_scenes_text_strips(tmp_path, toy_engine):
    rate = RATES["25"]
    cues = [[25, 70, "Alice: Hello there."], [80, 120, "Bob: Good to see you."], [140, 180, "Alice: Bye now."]]
    mix = tmp_path / "scene_mix.wav"
    env = {"MODE": "dub", "MIX_OUT": str(mix), "CAST": str(write(tmp_path / "cast.yaml", TOY_CAST)),
           "OUT_DIR": str(tmp_path / "scene_dub"), "DUB_COMMAND": f"{sys.executable} -m indextts_dub",
           "CUES_JSON": json.dumps({"fps": 25, "fps_base": 1.0, "frames": 250, "cues": cues}),
           "PYTHONPATH": os.pathsep.join([str(Path(toy_engine.__file__).parent), os.environ.get("PYTHONPATH", "")])}
    rep = _blender(tmp_path, env)
    assert rep["result"] == ["FINISHED"]
    sounds = sorted((s for s in rep["strips"] if s["type"] == "SOUND"), key=lambda s: s["frame"])
    assert [s["name"] for s in sounds] == ["0001 Alice: Hello there.", "0002 Bob: Good to see you.",
                                           "0003 Alice: Bye now."]
    assert [s["frame"] for s in sounds] == [1 + a for a, _b, _t in cues]     # cues on frames: no lead at all
    assert sounds[0]["channel"] == sounds[2]["channel"] != sounds[1]["channel"] and sounds[0]["channel"] > 1
    plan = json.loads((tmp_path / "scene_dub" / "result" / "plan.json").read_text(encoding="utf-8"))
    assert [r["slot"]["start"] for r in plan["lines"]] == [timebase.frame_to_sample(a, rate) for a, _b, _t in cues]
    x = _mono(mix)
    clips = [_mono(tmp_path / "scene_dub" / "result" / "clips" / f"{r['index']:04d}_{r['character']}.wav")
             for r in plan["lines"]]
    exp = [r["clip"]["start"] + first_above(c) for r, c in zip(plan["lines"], clips)]
    got = onsets(x, exp, 4000)
    assert all(g is not None and abs(g - e) <= 1920 for g, e in zip(got, exp)), (exp, got)


def test_kokoro_dubs_the_demo_against_an_editor_timeline(tmp_path):
    """The built-in engine, for real: the demo's subtitles against a 25 fps cut of its video
    starting at 10:00:00:00, subtitles on the timecode clock."""
    from indextts_dub import media

    info = media.probe(DEMO / "clip.mp4")
    rate = timebase.rate_fraction(float(info.fps))
    cut = write_otio(make_timeline(rate, info.frames, DEMO / "clip.mp4", start_tc="10:00:00:00"), tmp_path / "cut.otio")
    srt = (DEMO / "episode.srt").read_text(encoding="utf-8")
    import re

    srt = re.sub(r"(?m)^00:", "10:", srt).replace("--> 00:", "--> 10:")
    (tmp_path / "episode.srt").write_text(srt, encoding="utf-8")
    res = dub(tmp_path / "episode.srt", timeline=cut, cast=DEMO / "cast.yaml", out=tmp_path / "out")
    out = tmp_path / "out"
    assert res.facts.engine == "kokoro" and len(res.clips) >= 5
    assert res.clips[0].start == 500 * 48                        # 10:00:00,500 on a cut starting 10:00:00:00
    tin = open_timeline(out / "timeline.otio", TimelineOptions(), check_media=False)
    assert tin.start_timecode == "10:00:00:00" and tin.length == info.duration
    x = _mono(otio_render.render(tin.timeline, tmp_path / "render.wav", tin.length))
    exp = planned_onsets(res, out)
    got = onsets(x, exp, 2000)
    assert all(g is not None and abs(g - e) <= 1 for g, e in zip(got, exp)), (exp, got)
    for name in ("timeline.otio", "timeline.otioz", "timeline.xml", "timeline.kdenlive"):
        assert (out / "editor" / name).is_file()
