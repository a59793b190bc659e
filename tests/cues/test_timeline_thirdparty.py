"""Timelines other tools wrote (OpenTimelineIO's, the CMX 3600 and AAF adapters' sample data,
under tests/data/thirdparty/ with their provenance): transitions, gaps and nested stacks walked
by one walker wherever dialogue is read, NaN/Inf metadata, a missing adapter named with what to
install, an EDL read at the rate given with --fps, markers of line-less files named by what
they are."""
from __future__ import annotations

import opentimelineio as otio
import pytest

from indextts_dub import timebase
from indextts_dub.cues import load_cues
from indextts_dub.cues import timeline_in
from indextts_dub.cues.timeline_in import TimelineOptions, open_timeline
from indextts_dub.errors import DubError
from support.paths import DATA, run_cli
from support.timeline_helpers import REALWORLD_OTIO, realworld_otio, write_otio

THIRD = DATA / "thirdparty"
OTIO_FILES = [realworld_otio(n) for n in REALWORLD_OTIO] + sorted((THIRD / "otio").glob("*.otio"))
MODES = {"default": {}, "marker-color": {"marker_color": "RED"}, "marker-prefix": {"marker_prefix": "DLG:"},
         "dialogue-track": {"dialogue_track": "V"}}
FRAME_24 = timebase.SAMPLE_RATE // 24


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("path", OTIO_FILES, ids=lambda p: p.name)
def test_every_sample_timeline_reads_or_says_why(path, mode):
    """Each file, each way of taking dialogue from it: cues, or a DubError naming the file
    (before: a Transition's AttributeError for 5 of the 9 files, 'not valid JSON' for big_int)."""
    opts = TimelineOptions(allow_offline_media=True, **MODES[mode])
    try:
        cues, tin, _name = load_cues(None, path, None, opts)
    except DubError as exc:
        assert str(path) in str(exc)
        assert "not valid JSON" not in str(exc)
        return
    assert cues and all(0 <= c.start < c.end <= tin.length for c in cues)


def _with_markers(tl, where):
    """A marker ``DLG: <clip name>`` on each named clip, ``where`` frames into its used part, 6 frames long."""
    for clip in tl.find_clips():
        if clip.name in where:
            start = clip.trimmed_range().start_time + otio.opentime.RationalTime(where[clip.name], 24)
            clip.markers.append(otio.schema.Marker(
                name=f"DLG: {clip.name}", color="GREEN",
                marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(6, 24))))
    return tl


@pytest.mark.parametrize("mode", [{"marker_color": "GREEN"}, {"marker_prefix": "DLG:"}])
def test_markers_on_a_cut_with_transitions_land_where_the_clips_play(tmp_path, mode):
    tl = otio.adapters.read_from_file(str(realworld_otio("transition_test.otio")))
    path = write_otio(_with_markers(tl, {"A": 5, "B": 5, "C": 0}), tmp_path / "t.otio")
    cues, _tin, _ = load_cues(None, path, None, TimelineOptions(allow_offline_media=True, **mode))
    # A plays at frame 0, B at 50, C at 100 (the transitions take no time of their own in the track)
    assert [(c.start // FRAME_24, c.length // FRAME_24) for c in cues] == [(5, 6), (55, 6), (100, 6)]


def test_markers_inside_nested_stacks_and_trimmed_away(tmp_path):
    tl = otio.adapters.read_from_file(str(realworld_otio("nested_example.otio")))
    # "Clip Inside A Stack" (37 frames) plays at 238 in a nested stack that shows its first 31 frames
    first = next(c for c in tl.find_clips() if c.name.startswith("Clip Inside A Stack"))
    first.name = "Inside"
    _with_markers(tl, {"Inside": 4, "Normal Clip 2": 0})
    hidden = otio.schema.Marker(name="DLG: hidden", color="GREEN", marked_range=otio.opentime.TimeRange(
        first.trimmed_range().start_time + otio.opentime.RationalTime(33, 24), otio.opentime.RationalTime(2, 24)))
    first.markers.append(hidden)
    path = write_otio(tl, tmp_path / "n.otio")
    cues, _tin, _ = load_cues(None, path, None, TimelineOptions(allow_offline_media=True, marker_color="GREEN"))
    assert [(c.text, c.start // FRAME_24) for c in cues] == [("Inside", 242), ("Normal Clip 2", 269)]


def test_dialogue_track_clips_through_transitions_and_nested_stacks(tmp_path):
    cues, _tin, _ = load_cues(None, realworld_otio("transition_test.otio"), None,
                              TimelineOptions(allow_offline_media=True, dialogue_track="Sequence1"))
    assert [(c.text, c.start // FRAME_24, c.length // FRAME_24) for c in cues] == [
        ("A", 0, 50), ("B", 50, 50), ("C", 100, 50)]
    cues, _tin, _ = load_cues(None, realworld_otio("nested_example.otio"), None,
                              TimelineOptions(allow_offline_media=True, dialogue_track="Top Level Track"))
    got = [(c.start // FRAME_24, c.length // FRAME_24) for c in cues]
    # the nested stacks show 31 and 29 frames of their 37- and 24-frame clips; the nested track one frame
    assert got == [(0, 238), (238, 31), (269, 33), (302, 24), (331, 63), (394, 1), (398, 238)]


def test_nan_and_inf_metadata_is_read():
    tin = open_timeline(THIRD / "otio" / "big_int.otio", TimelineOptions(allow_offline_media=True))
    md = tin.timeline.tracks[0][0].metadata
    f = md["float"]
    assert f["floatinf"] == float("inf") and f["floatneginf"] == float("-inf") and f["floatnan"] != f["floatnan"]
    assert md["int_test"]["verybig"] == 3450100000 and md["unicode"]["utf8"] == "Viel glück und hab spaß!"


def test_a_missing_adapter_says_which_extra_to_install(monkeypatch, tmp_path):
    def nothing_reads(path):
        raise otio.exceptions.NoKnownAdapterForExtensionError(path)

    monkeypatch.setattr(otio.adapters, "from_filepath", nothing_reads)
    monkeypatch.setattr(timeline_in, "timeline_suffixes", lambda: {".otio", ".otioz", ".otiod"})
    for path, extra in ((THIRD / "aaf" / "marker-over-transition.aaf", "aaf"), (THIRD / "edl" / "25fps.edl", "edl")):
        with pytest.raises(DubError) as exc:
            load_cues(path, None, None, TimelineOptions())
        assert f"pip install 'indextts-dub[{extra}]'" in str(exc.value)
        assert "encoding" not in str(exc.value) and "subtitle" not in str(exc.value)


def test_a_25_fps_edl_is_read_at_the_rate_given_with_fps():
    path = THIRD / "edl" / "25fps.edl"
    with pytest.raises(DubError) as exc:
        open_timeline(path, TimelineOptions(allow_offline_media=True))
    assert "--fps" in str(exc.value)
    tin = open_timeline(path, TimelineOptions(allow_offline_media=True, fps=timebase.rate_fraction(25)))
    assert tin.rate == 25
    # four events: 6:11 + 8:00 + 3:11 + 1:24 = 19 s 21 frames at 25 fps
    assert tin.length == (19 * 25 + 21) * timebase.SAMPLE_RATE // 25


def test_markers_over_transitions_sit_where_media_composer_shows_them():
    """The AAF adapter's sample: Media Composer's own marker list (frame in the sequence,
    frame in the clip) beside the AAF; markers on clips, gaps and over transition handles."""
    listed = [line.split() for line in (THIRD / "aaf" / "multiple-markers-over-transitions.txt").read_text().splitlines()
              if line.strip()]
    cues, tin, _ = load_cues(None, THIRD / "aaf" / "multiple-markers-over-transitions.aaf", None,
                             TimelineOptions(allow_offline_media=True, marker_color="RED"))
    # the last three it lists (frames 392, 398, 404) sit on the closing fade's handle, past the
    # sequence's 392 frames: nothing plays there
    assert tin.length == 392 * FRAME_24
    expected = sorted(int(f[1]) for f in listed if int(f[1]) < 392)
    assert sorted(c.start // FRAME_24 for c in cues) == expected and len(expected) == len(listed) - 3 > 30
    # Media Composer's markers are one frame long: point markers, whose slots run to the next one
    starts = sorted({c.start for c in cues})
    for c in cues:
        later = [s for s in starts if s > c.start]
        assert c.end == min(c.start + 8 * 48000, tin.length, later[0] if later else tin.length)
    assert any("dialogue marker(s) have no duration" in w for w in cues.warnings)


def test_aaf_marker_problems_name_the_marker_not_line_0(tmp_path):
    cast = tmp_path / "cast.yaml"          # every marker to one voice: its overlaps, refused with --strict
    cast.write_text("engine: kokoro\ncharacters:\n  Alice:\n    voice: kokoro:jf_alpha\n    cues: [1, 2, 3, 4]\n")
    res = run_cli("dub", THIRD / "aaf" / "marker-over-transition.aaf", "--dry-run", "--allow-offline-media",
                  "--cast", cast, "--marker-color", "BLUE", "--strict", "-o", tmp_path / "out", "-q")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert ".aaf:0" not in res.stderr and "line 0" not in res.stderr
    assert "marker 's999_1.gt_2' at 01:00:00:00" in res.stderr
