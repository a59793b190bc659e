"""The DaVinci Resolve script (plugins/resolve/IndexTTS Dub.py) against a fake Resolve API.

Resolve cannot run here (no Linux build in Debian, needs a GPU and a licence), so its
scripting objects are replaced by a fake that records every call and does what Resolve would
do with files: ``Timeline.Export`` writes a real OTIO timeline. Everything else is real: the
script's logic, the indextts-dub command it runs, the files it imports."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from support.paths import REPO, write
from indextts_dub import timebase
from indextts_dub.cues.timeline_in import open_timeline
from support.timeline_helpers import RATES, TOY_CAST, make_srt, make_timeline, make_video, write_otio

SCRIPT = REPO / "plugins" / "resolve" / "IndexTTS Dub.py"


def load_script():
    spec = importlib.util.spec_from_file_location("indextts_dub_resolve", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Recorder:
    def __init__(self):
        self.calls: list[tuple] = []

    def log(self, *call):
        self.calls.append(call)

    def names(self):
        return [c[0] for c in self.calls]


class FakeItem:
    def __init__(self, start, end, text):
        self._s, self._e, self._t = start, end, text

    def GetStart(self):
        return self._s

    def GetEnd(self):
        return self._e

    def GetName(self):
        return self._t


class FakeTimeline:
    def __init__(self, rec, name, otio_tl, rate_label, start_frame, frames, subtitles=()):
        self.rec, self.name, self.otio_tl = rec, name, otio_tl
        self.rate_label, self.start, self.frames, self.subtitles = rate_label, start_frame, frames, list(subtitles)
        self.export_ok = True

    def GetName(self):
        return self.name

    def Export(self, path, kind, subtype):
        self.rec.log("Timeline.Export", path, kind, subtype)
        if self.export_ok:
            write_otio(self.otio_tl, Path(path))
        return self.export_ok

    def GetSetting(self, key):
        self.rec.log("Timeline.GetSetting", key)
        return {"timelineFrameRate": self.rate_label}[key]

    def GetStartFrame(self):
        return self.start

    def GetEndFrame(self):
        return self.start + self.frames

    def GetTrackCount(self, kind):
        return 1 if kind == "subtitle" and self.subtitles else 0

    def GetItemListInTrack(self, kind, index):
        self.rec.log("Timeline.GetItemListInTrack", kind, index)
        return self.subtitles


class FakeMediaPool:
    def __init__(self, rec):
        self.rec = rec
        self.imported_timeline_file = None

    def GetRootFolder(self):
        return "root-folder"

    def AddSubFolder(self, parent, name):
        self.rec.log("MediaPool.AddSubFolder", parent, name)
        return f"folder:{name}"

    def SetCurrentFolder(self, folder):
        self.rec.log("MediaPool.SetCurrentFolder", folder)
        return True

    def ImportMedia(self, paths):
        self.rec.log("MediaPool.ImportMedia", list(paths))
        assert all(Path(p).is_file() for p in paths)
        return [f"item:{Path(p).name}" for p in paths]

    def ImportTimelineFromFile(self, path, options):
        self.rec.log("MediaPool.ImportTimelineFromFile", path, dict(options))
        self.imported_timeline_file = path
        return f"timeline:{options['timelineName']}" if Path(path).is_file() else None


class FakeProject:
    def __init__(self, rec, timeline):
        self.rec, self.timeline, self.pool = rec, timeline, FakeMediaPool(rec)

    def GetCurrentTimeline(self):
        return self.timeline

    def GetMediaPool(self):
        return self.pool

    def SetCurrentTimeline(self, tl):
        self.rec.log("Project.SetCurrentTimeline", tl)
        return True


class FakeResolve:
    EXPORT_OTIO = "EXPORT_OTIO"
    EXPORT_NONE = "EXPORT_NONE"

    def __init__(self, project):
        self.project = project

    def GetProjectManager(self):
        resolve = self

        class PM:
            def GetCurrentProject(self_inner):
                return resolve.project

        return PM()


@pytest.fixture
def setup(tmp_path, toy_engine, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(toy_engine.__file__).parent),
                                                      os.environ.get("PYTHONPATH", "")]))
    rec = Recorder()
    rate = RATES["23.976"]
    frames = 24 * 12
    video = make_video(tmp_path / "pic.mp4", rate, frames)
    tl = make_timeline(rate, frames, video, start_tc="01:00:00:00", name="Reel 1",
                       markers=[(12, 36, "GREEN", "Alice", "Alice: Hello there."), (60, 48, "GREEN", "Bob: Hi.", ""),
                                (150, 10, "RED", "grade note", "")])
    fake_tl = FakeTimeline(rec, "Reel 1", tl, "23.976", 86400, frames)
    project = FakeProject(rec, fake_tl)
    cfg = {"command": f"{sys.executable} -m indextts_dub", "cast": str(write(tmp_path / "cast.yaml", TOY_CAST)),
           "subtitles": None, "marker_color": "Green", "output": str(tmp_path / "resolve_out"), "extra_args": [],
           "allow_offline_media": False}
    return load_script(), FakeResolve(project), project, rec, cfg, rate


def test_markers_are_dubbed_and_the_result_imported(setup):
    script, resolve, project, rec, cfg, rate = setup
    result = script.run(resolve, cfg, log=lambda *_: None)
    assert rec.names() == ["Timeline.Export", "MediaPool.AddSubFolder", "MediaPool.SetCurrentFolder",
                           "MediaPool.ImportMedia", "MediaPool.ImportTimelineFromFile", "Project.SetCurrentTimeline"]
    export = rec.calls[0]
    assert export[2:] == ("EXPORT_OTIO", "EXPORT_NONE") and export[1] == result["source"]
    assert rec.calls[1][1:] == ("root-folder", "indextts-dub")
    wavs = rec.calls[3][1]
    assert [Path(w).name for w in wavs] == ["0001_Alice.wav", "0002_Bob.wav"]
    path, options = rec.calls[4][1:]
    assert options == {"timelineName": "Reel 1 (dub)", "importSourceClips": True}
    assert Path(path) == Path(result["output"]) / "editor" / "timeline.otio"
    assert rec.calls[5][1] == "timeline:Reel 1 (dub)"
    assert "--marker-color" in result["command"] and "Green" in result["command"]
    imported = open_timeline(path).timeline
    assert [t.name for t in imported.tracks] == ["V1", "Alice", "Bob"]
    assert imported.global_start_time.value == 86400            # 01:00:00:00 kept
    plan = json.loads((Path(result["output"]) / "plan.json").read_text(encoding="utf-8"))
    assert [r["slot"]["start"] for r in plan["lines"]] == [timebase.frame_to_sample(12, rate), timebase.frame_to_sample(60, rate)]


def test_subtitle_track_becomes_an_exact_cue_timeline(setup):
    script, resolve, project, rec, cfg, rate = setup
    project.timeline.subtitles = [FakeItem(86400 + 30, 86400 + 70, "Alice: From the subtitle track."),
                                  FakeItem(86400 + 100, 86400 + 140, "Bob: Second one.")]
    result = script.run(resolve, cfg, log=lambda *_: None)
    assert result["cue_timeline"] and "--dialogue-track" in result["command"]
    plan = json.loads((Path(result["output"]) / "plan.json").read_text(encoding="utf-8"))
    assert [(r["character"], r["slot"]["start"], r["slot"]["end"]) for r in plan["lines"]] == [
        ("Alice", timebase.frame_to_sample(30, rate), timebase.frame_to_sample(70, rate)),
        ("Bob", timebase.frame_to_sample(100, rate), timebase.frame_to_sample(140, rate))]


def test_subtitle_file_from_the_settings(setup, tmp_path):
    script, resolve, project, rec, cfg, rate = setup
    cfg["subtitles"] = str(make_srt(tmp_path / "ep.srt", [(1000, 2500, "Alice: From a file.")], offset_ms=3_600_000))
    result = script.run(resolve, cfg, log=lambda *_: None)
    plan = json.loads((Path(result["output"]) / "plan.json").read_text(encoding="utf-8"))
    assert [r["slot"]["start"] for r in plan["lines"]] == [48000]        # 01:00:01,000 on a 01:00:00:00 timeline


def test_a_failed_dub_imports_nothing_and_says_why(setup):
    script, resolve, project, rec, cfg, rate = setup
    cfg["marker_color"] = "Blue"
    with pytest.raises(script.DubFailed, match="no dialogue marker with colour Blue"):
        script.run(resolve, cfg, log=lambda *_: None)
    assert "MediaPool.ImportTimelineFromFile" not in rec.names()
    project.timeline.export_ok = False
    with pytest.raises(script.DubFailed, match="could not export the timeline 'Reel 1' to OpenTimelineIO"):
        script.run(resolve, cfg, log=lambda *_: None)


def test_settings_file_and_main_without_resolve(tmp_path, monkeypatch, capsys):
    script = load_script()
    conf = write(tmp_path / "conf.json", json.dumps({"cast": "/x/cast.yaml", "marker_color": "Red"}))
    monkeypatch.setenv("INDEXTTS_DUB_RESOLVE_CONFIG", str(conf))
    cfg = script.load_config()
    assert cfg["cast"] == "/x/cast.yaml" and cfg["marker_color"] == "Red" and cfg["command"] == "indextts-dub"
    assert script.main() == 1 and "run this from DaVinci Resolve" in capsys.readouterr().err
