"""The OpenTimelineIO plugin package (plugins/otio), pip-installed into a folder and found by
OpenTimelineIO's own tools through its entry point: subtitles read as dialogue timelines,
and dub tracks frame-snapped when a master is converted to an editor format."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from support.paths import REPO, run_cli, write
from indextts_dub.cues import read_cues
from indextts_dub.cues.timeline_cues import cues_from_timeline
from indextts_dub.cues.timeline_in import TimelineOptions, open_timeline
from support.timeline_helpers import RATES, TOY_CAST, TOY_CUES, make_srt, make_timeline, write_otio

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """``pip install plugins/otio`` into a folder (offline: no build isolation, no dependencies)."""
    target = tmp_path_factory.mktemp("otio_plugin")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(REPO / "plugins" / "otio")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (target / "otio_indextts_dub" / "plugin_manifest.json").is_file()
    return target


def tool(site: Path, *args, extra_path: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(site), extra_path, os.environ.get("PYTHONPATH", "")) if p))
    return subprocess.run([str(BIN / args[0]), *map(str, args[1:])], capture_output=True, text=True, env=env, timeout=300)


def test_otio_finds_the_plugin(plugin_site):
    res = tool(plugin_site, "otiopluginfo")
    assert res.returncode == 0, res.stderr
    assert "indextts_subtitles" in res.stdout and "indextts_dub_frame_snap" in res.stdout
    assert "read_from_file args: ['filepath', 'mode', 'rate', 'color', 'encoding']" in res.stdout


SRT = ("1\n00:00:00,517 --> 00:00:02,003\nAlice: Hello there.\n\n2\n00:00:01,500 --> 00:00:02,500\n[Bob] Overlapping.\n\n"
       "3\n00:00:04,523 --> 00:00:05,911\nNobody named.\n")
ASS = ("[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, "
       "Effect, Text\nDialogue: 0,0:00:01.00,0:00:02.50,Default,Mei,0,0,0,,好的。\n")
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Alice>Hi there.\n"


@pytest.mark.parametrize("name,text", [("episode.srt", SRT), ("episode.ass", ASS), ("episode.vtt", VTT)])
def test_otioconvert_reads_subtitles_as_dialogue_clips(name, text, plugin_site, tmp_path):
    sub = write(tmp_path / name, text)
    res = tool(plugin_site, "otioconvert", "-i", sub, "-o", tmp_path / "cues.otio")
    assert res.returncode == 0, res.stderr
    tin = open_timeline(tmp_path / "cues.otio")
    assert tin.rate == 1000 and tin.timeline.metadata["indextts_dub"]["exact_times"] is True
    from_timeline = cues_from_timeline(tin, TimelineOptions())
    from_file = read_cues(sub)
    assert [(c.start, c.end, c.text, c.speaker) for c in from_timeline] == [
        (c.start, c.end, c.text, c.speaker) for c in from_file]
    if name == "episode.srt":                 # overlapping cues go to a second lane
        assert [t.name for t in tin.timeline.tracks] == ["Dialogue", "Dialogue 2"]


def test_otioconvert_markers_at_a_frame_rate(plugin_site, tmp_path):
    res = tool(plugin_site, "otioconvert", "-i", write(tmp_path / "e.srt", SRT), "-o", tmp_path / "cues.otio",
               "-a", "mode=markers", "-a", "rate=25", "-a", "color=yellow")
    assert res.returncode == 0, res.stderr
    tin = open_timeline(tmp_path / "cues.otio")
    markers = list(tin.timeline.tracks.markers)
    assert [m.color for m in markers] == ["YELLOW"] * 3
    assert [(m.marked_range.start_time.value, m.marked_range.duration.value) for m in markers] == [
        (13, 37), (38, 24), (113, 35)]                       # 0.517 s = frame 12.9 -> 13; 1.5 s = 37.5 -> 38
    # each name opens one cue only: the text keeps it, and casting is offered it (a cast naming Alice takes it)
    cues = cues_from_timeline(tin, TimelineOptions())
    assert [c.text for c in cues] == ["Alice: Hello there.", "[Bob] Overlapping.", "Nobody named."]
    assert [c.prefix for c in cues] == ["Alice", "Bob", None]


def test_dub_against_a_timeline_with_a_cue_timeline(plugin_site, tmp_path, toy_engine):
    cut = write_otio(make_timeline(RATES["24"], 24 * 10), tmp_path / "cut.otio")
    srt = make_srt(tmp_path / "ep.srt", TOY_CUES)
    assert tool(plugin_site, "otioconvert", "-i", srt, "-o", tmp_path / "cues.otio").returncode == 0
    extra = str(Path(toy_engine.__file__).parent)
    cast = write(tmp_path / "cast.yaml", TOY_CAST)
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_site), extra])}
    a = run_cli("dub", cut, "--subtitles", tmp_path / "cues.otio", "--cast", cast, "-o", tmp_path / "a", "-q", env=env)
    b = run_cli("dub", cut, "--subtitles", srt, "--cast", cast, "-o", tmp_path / "b", "-q", env=env)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    pa = json.loads((tmp_path / "a" / "plan.json").read_text(encoding="utf-8"))
    pb = json.loads((tmp_path / "b" / "plan.json").read_text(encoding="utf-8"))
    assert [r["clip"] for r in pa["lines"]] == [r["clip"] for r in pb["lines"]]
    # the pre_adapter_write hook: the master converted to FCP 7 XML gets frame-snapped dub tracks
    res = tool(plugin_site, "otioconvert", "-i", tmp_path / "b" / "timeline.otio", "-o", tmp_path / "conv" / "cut.xml")
    assert res.returncode == 0, res.stderr
    import opentimelineio as otio

    back = otio.adapters.read_from_file(str(tmp_path / "conv" / "cut.xml"), adapter_name="fcp_xml")
    copy = open_timeline(tmp_path / "b" / "editor" / "timeline.otio", check_media=False).timeline

    def positions(tracks):
        return [[(round(t.range_of_child_at_index(i).start_time.value), Path(c.media_reference.target_url).name)
                 for i, c in enumerate(t) if isinstance(c, otio.schema.Clip)] for t in tracks]

    assert positions([t for t in back.tracks if t.kind == "Audio"]) == positions(
        [t for t in copy.tracks if t.kind == "Audio"])
    for wav in (tmp_path / "b" / "editor" / "media").iterdir():
        snapped = tmp_path / "conv" / "cut_media" / wav.name
        assert sf.read(str(snapped))[0].tolist() == sf.read(str(wav))[0].tolist()
    # OTIO targets are written as they are
    res = tool(plugin_site, "otioconvert", "-i", tmp_path / "b" / "timeline.otio", "-o", tmp_path / "conv" / "same.otio")
    assert res.returncode == 0
    assert json.loads((tmp_path / "conv" / "same.otio").read_text()) == json.loads(
        (tmp_path / "b" / "timeline.otio").read_text())
