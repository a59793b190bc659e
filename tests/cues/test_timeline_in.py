"""Timelines in: exact rates, OTIO files as written (errors with lines, newer schemas), the
timeline's rate/start/length, dialogue from markers and clips, subtitles against a timeline,
and every kind of bad input named by file, line and field."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from indextts_dub import timebase
from indextts_dub.cues import read_cues
from indextts_dub.errors import DubError
from indextts_dub.cues.otio_json import read_timeline_json
from indextts_dub.cues.timeline_cues import align_subtitle_cues, cues_from_timeline, grid_rates, read_cues_for_timeline
from indextts_dub.cues.timeline_in import TimelineOptions, is_timeline, open_timeline
from support.timeline_helpers import RATES, REALWORLD_OTIO, make_srt, make_timeline, realworld_otio, write_otio

ALLOW = TimelineOptions(allow_offline_media=True)


# ---------------------------------------------------------------- rates

def test_rates_are_exact_fractions():
    assert timebase.rate_fraction(24000 / 1001) == Fraction(24000, 1001)
    assert timebase.rate_fraction(23.976) == timebase.rate_fraction(23.98) == Fraction(24000, 1001)
    assert timebase.rate_fraction(29.97) == Fraction(30000, 1001)
    assert timebase.rate_fraction(25.0) == 25 and timebase.rate_fraction(48000) == 48000
    assert timebase.frame_to_sample(24, Fraction(24000, 1001)) == 48048
    assert timebase.time_to_samples(24, 24000 / 1001) == 48048
    assert timebase.frame_to_sample(5, Fraction(30000, 1001)) == 8008        # 5 * 1601.6


@pytest.mark.parametrize("label", list(RATES))
def test_frame_of_a_sample_never_starts_after_it(label):
    r = RATES[label]
    for s in list(range(0, 20000, 37)) + [10 ** 7 + 13, 172_799_827]:
        f = timebase.frame_at(s, r)
        assert timebase.frame_to_sample(f, r) <= s < timebase.frame_to_sample(f + 1, r)
        end = timebase.frames_covering(s, r)
        assert timebase.frame_to_sample(end, r) >= s and timebase.frame_to_sample(end - 1, r) < s or s == 0


def test_drop_frame_timecode_at_2997():
    r = RATES["29.97"]
    assert timebase.is_drop_frame_rate(r) and not timebase.is_drop_frame_rate(RATES["23.976"])
    assert timebase.smpte(107892, r) == "01:00:00;00"
    assert timebase.smpte(1800, r) == "00:01:00;02"                       # frames 0 and 1 are dropped at minute 1
    assert timebase.smpte(86400, RATES["23.976"]) == "01:00:00:00"
    assert timebase.timecode_label_seconds("01:00:00;00", r) == 3600


# ---------------------------------------------------------------- reading OTIO files

@pytest.mark.parametrize("name", REALWORLD_OTIO)
def test_every_realworld_timeline_opens(name):
    tin = open_timeline(realworld_otio(name), ALLOW)
    assert tin.length > 0 and tin.rate in (24, 30)
    expected = {"premiere_example.otio": (30, "global_start_time"), "multitrack.otio": (24, "video track"),
                "nested_example.otio": (24, "video track"), "transition_test.otio": (24, "video track")}[name]
    assert (tin.rate, tin.rate_from) == expected
    assert tin.length == timebase.rt_to_samples(tin.timeline.duration())


def test_newer_marker_schema_is_read_and_its_line_known():
    path = realworld_otio("premiere_example.otio")
    tl, jd = read_timeline_json(path.read_text(encoding="utf-8"), path)
    assert [d[1:] for d in jd.downgraded] == [("Marker.3", "Marker.2")] * 4
    assert [m.color for m in tl.tracks.markers] == ["RED", "RED", "RED"]
    assert [m.name for m in tl.tracks.markers] == ["My MArker 1", "dsf", ""]
    line = jd.line(("tracks", "markers", 1))
    assert '"OTIO_SCHEMA": "Marker.3"' in path.read_text(encoding="utf-8").splitlines()[line - 1]


def test_unknown_newer_schema_version_names_its_line(tmp_path):
    tl = make_timeline(RATES["24"], 48)
    doc = json.loads(__import__("opentimelineio").adapters.write_to_string(tl))
    doc["tracks"]["children"][0]["OTIO_SCHEMA"] = "Track.7"
    p = tmp_path / "future.otio"
    p.write_text(json.dumps(doc, indent=4))
    with pytest.raises(DubError) as err:
        open_timeline(p)
    msg = str(err.value)
    assert "future.otio:" in msg and "tracks.children[0]: Track.7 is newer than this OpenTimelineIO reads (Track.1)" in msg


def test_an_otio_file_that_does_not_parse(tmp_path):
    p = tmp_path / "broken.otio"
    p.write_text('{\n  "OTIO_SCHEMA": "Timeline.1",\n  "name": "x",\n  "tracks": {\n    "children": [,]\n  }\n}\n')
    with pytest.raises(DubError) as err:
        open_timeline(p)
    assert str(err.value).startswith(f"{p}:5: JSON: Expecting value (column 18); the file is not valid JSON")
    p.write_text('[1, 2, 3]')
    with pytest.raises(DubError, match="not an OpenTimelineIO file"):
        open_timeline(p)
    p.write_text('{"OTIO_SCHEMA": "Timeline.1", "tracks": {"OTIO_SCHEMA": "Stack.1", "children": 5}}')
    with pytest.raises(DubError, match="OpenTimelineIO: cannot read the timeline"):
        open_timeline(p)


def test_timeline_with_no_video_track_and_no_rate(tmp_path):
    import opentimelineio as otio

    tl = otio.schema.Timeline(name="audio only")
    a = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(96000, 48000))))
    tl.tracks.append(a)
    p = write_otio(tl, tmp_path / "audio.otio")
    with pytest.raises(DubError) as err:
        open_timeline(p)
    assert "audio.otio:" in str(err.value) and "global_start_time: the timeline has no video track and no global " \
                                                "start time, so its frame rate is unknown; give it with --fps" in str(err.value)
    tin = open_timeline(p, TimelineOptions(fps=Fraction(25)))
    assert tin.rate == 25 and tin.rate_from == "--fps" and tin.length == 96000


def test_fps_that_disagrees_with_the_timeline(tmp_path):
    p = write_otio(make_timeline(RATES["25"], 100), tmp_path / "cut.otio")
    with pytest.raises(DubError, match="--fps 24 disagrees with the timeline's 25 fps"):
        open_timeline(p, TimelineOptions(fps=Fraction(24)))


def test_start_timecode_and_drop_frame(tmp_path):
    p = write_otio(make_timeline(RATES["29.97"], 300, start_tc="01:00:00;00"), tmp_path / "df.otio")
    tin = open_timeline(p)
    assert tin.start_frame == 107892 and tin.drop_frame and tin.start_timecode == "01:00:00;00"
    assert tin.length == timebase.frame_to_sample(300, RATES["29.97"])


def test_media_references_that_do_not_exist(tmp_path):
    video = tmp_path / "gone.mp4"
    video.write_bytes(b"x")
    p = write_otio(make_timeline(RATES["24"], 48, video=video), tmp_path / "cut.otio")
    video.unlink()
    with pytest.raises(DubError) as err:
        open_timeline(p)
    msg = str(err.value)
    assert f"{p}:" in msg and "tracks.children[0].children[0].media_references.DEFAULT_MEDIA.target_url: clip " \
                              f"'picture': media {video.as_uri()} does not exist" in msg
    assert "pass --allow-offline-media" in msg
    tin = open_timeline(p, ALLOW)
    assert len(tin.offline_media) == 1


def test_which_files_are_timelines():
    assert is_timeline("cut.otio") and is_timeline("cut.xml") and is_timeline("cut.kdenlive")
    assert not is_timeline("episode.srt") and not is_timeline("episode.ass")


# ---------------------------------------------------------------- dialogue in the timeline

def _marker_cut(tmp_path, markers, rate=RATES["24"]):
    return open_timeline(write_otio(make_timeline(rate, 24 * 20, markers=markers), tmp_path / "cut.otio"))


def test_dialogue_markers_by_colour(tmp_path):
    tin = _marker_cut(tmp_path, [(24, 48, "GREEN", "Alice", "Alice: Hello there."),
                                 (96, 36, "RED", "note", "fix the grade"),
                                 (150, 30, "GREEN", "Bob: We go now.", "")])
    cues = cues_from_timeline(tin, TimelineOptions(marker_color="green"))
    assert [(c.start, c.end, c.speaker, c.text) for c in cues] == [
        (48000, 144000, "Alice", "Hello there."), (300000, 360000, "Bob", "We go now.")]
    assert cues[0].id == "tracks.markers[0]" and cues[0].line > 0 and cues[0].file.endswith("cut.otio")


def test_dialogue_markers_by_prefix(tmp_path):
    tin = _marker_cut(tmp_path, [(24, 48, "RED", "DLG: Mei: 好的。", ""), (96, 36, "RED", "note", "")])
    cues = cues_from_timeline(tin, TimelineOptions(marker_prefix="DLG:"))
    assert [(c.speaker, c.text) for c in cues] == [("Mei", "好的。")]


def test_markers_without_text(tmp_path):
    tin = _marker_cut(tmp_path, [(24, 48, "GREEN", "", ""), (96, 36, "GREEN", "DLG:", "  ")])
    with pytest.raises(DubError) as err:
        cues_from_timeline(tin, TimelineOptions(marker_color="GREEN", marker_prefix="DLG:"))
    assert "tracks.markers[1].name: dialogue marker at 00:00:04.000 has no text" in str(err.value)
    with pytest.raises(DubError) as err:
        cues_from_timeline(tin, TimelineOptions(marker_color="GREEN"))
    lines = str(err.value).splitlines()      # the second one's name "DLG:" is its text without the prefix option
    assert len(lines) == 1 and "has no text (its name and comment are empty)" in lines[0]
    assert lines[0].startswith(f"{tin.path}:{tin.where(('tracks', 'markers', 0))}: tracks.markers[0].name")


def test_point_markers_get_the_slot_up_to_the_next_line(tmp_path):
    # markers with no duration, or one frame (what editors make when you press M): the slot runs
    # to the next line's start, at most 8 s, never past the timeline; a warning says so
    tin = _marker_cut(tmp_path, [(24, 0, "GREEN", "Alice: hi", ""), (72, 1, "GREEN", "Bob: Yes.", ""),
                                 (96, 48, "GREEN", "Alice: Go on.", ""), (200, 0, "GREEN", "Bob: Last.", "")])
    cues = cues_from_timeline(tin, TimelineOptions(marker_color="GREEN"))
    assert [(c.start, c.end, c.text) for c in cues] == [
        (48000, 144000, "hi"), (144000, 192000, "Yes."), (192000, 288000, "Go on."),
        (400000, 400000 + 8 * 48000, "Last.")]
    assert len(cues.warnings) == 1 and "3 dialogue marker(s) have no duration" in cues.warnings[0]
    assert "at most 8 s" in cues.warnings[0]


def test_no_dialogue_says_what_the_timeline_has(tmp_path):
    tin = _marker_cut(tmp_path, [(24, 48, "RED", "note", "")])
    with pytest.raises(DubError, match=r"no dialogue found in the timeline; give --subtitles FILE.*1 marker\(s\) \(RED x1\)"):
        cues_from_timeline(tin, TimelineOptions())
    with pytest.raises(DubError, match="no dialogue marker with colour GREEN"):
        cues_from_timeline(tin, TimelineOptions(marker_color="GREEN"))


def test_dialogue_clips_on_a_named_track(tmp_path):
    tl = make_timeline(RATES["25"], 250, dialogue_track=[(25, 50, "Alice: One."), (100, 25, "Two.")])
    tl.tracks[1][3].metadata["indextts_dub"] = {"character": "Bob"}
    tin = open_timeline(write_otio(tl, tmp_path / "cut.otio"))
    cues = cues_from_timeline(tin, TimelineOptions(dialogue_track="dialogue"))
    assert [(c.start, c.end, c.speaker, c.text) for c in cues] == [
        (48000, 144000, "Alice", "One."), (192000, 240000, "Bob", "Two.")]
    with pytest.raises(DubError, match=r"--dialogue-track: no track named 'Voices' \(tracks: 'V1', 'Dialogue'\)"):
        cues_from_timeline(tin, TimelineOptions(dialogue_track="Voices"))


# ---------------------------------------------------------------- subtitles against a timeline

def _cut(tmp_path, rate, frames, tc=None):
    return open_timeline(write_otio(make_timeline(rate, frames, start_tc=tc), tmp_path / "cut.otio"))


def test_subtitle_clock_auto(tmp_path):
    tin = _cut(tmp_path, RATES["25"], 25 * 60, "01:00:00:00")
    on_tc = read_cues(make_srt(tmp_path / "a.srt", [(1000, 2000, "a"), (3000, 4000, "b")], offset_ms=3_600_000))
    assert [c.start for c in align_subtitle_cues(on_tc, tin, TimelineOptions(), "a.srt")] == [48000, 144000]
    from_zero = read_cues(make_srt(tmp_path / "b.srt", [(1000, 2000, "a")]))
    assert [c.start for c in align_subtitle_cues(from_zero, tin, TimelineOptions(), "b.srt")] == [48000]
    mixed = read_cues(make_srt(tmp_path / "c.srt", [(1000, 2000, "a"), (3_600_500, 3_601_000, "b")]))
    with pytest.raises(DubError, match="c.srt:2: start: starts at 00:00:01.000, before the timeline's start "
                                       "timecode 01:00:00:00, while other cues start after it"):
        align_subtitle_cues(mixed, tin, TimelineOptions(), "c.srt")
    with pytest.raises(DubError, match=r"c.srt:6: start: starts at 01:00:00.500, after the timeline ends"):
        align_subtitle_cues(mixed, tin, TimelineOptions(subtitle_clock="programme"), "c.srt")
    assert [c.start for c in align_subtitle_cues(mixed[1:], tin, TimelineOptions(subtitle_clock="timecode"), "c.srt")
            ] == [24000]


def test_drop_frame_timeline_reads_subtitles_on_its_timecode_clock(tmp_path):
    tin = _cut(tmp_path, RATES["29.97"], 900, "01:00:00;00")
    cues = read_cues(make_srt(tmp_path / "a.srt", [(5000, 6000, "a")], offset_ms=3_600_000))
    assert [c.start for c in align_subtitle_cues(cues, tin, TimelineOptions(), "a.srt")] == [240000]


def test_cue_after_the_timeline_ends(tmp_path):
    tin = _cut(tmp_path, RATES["24"], 48)
    cues = read_cues(make_srt(tmp_path / "a.srt", [(500, 900, "a"), (5000, 6000, "late")]))
    with pytest.raises(DubError, match=r"a.srt:6: start: starts at 00:00:05.000, after the timeline ends \(00:00:02.000, cut.otio\)"):
        align_subtitle_cues(cues, tin, TimelineOptions(), "a.srt")


def test_subtitles_timed_on_another_frame_rate(tmp_path):
    tin = _cut(tmp_path, RATES["23.976"], 24 * 120)
    on25 = [(k * 1000 + 40 * (k % 7 + 1), k * 1000 + 40 * (k % 7 + 1) + 880, f"line {k}") for k in range(1, 12)]
    cues = read_cues(make_srt(tmp_path / "pal.srt", on25))
    assert Fraction(25) in grid_rates(cues)
    with pytest.raises(DubError) as err:
        align_subtitle_cues(cues, tin, TimelineOptions(), "pal.srt")
    assert "pal.srt:2: times: every cue starts and ends on a 25 fps frame boundary but the timeline runs at " \
           "23.976 fps" in str(err.value)
    assert len(align_subtitle_cues(cues, tin, TimelineOptions(subtitle_fps=RATES["23.976"]), "pal.srt")) == 11
    with pytest.raises(DubError, match="--subtitle-fps: the subtitles are timed at 25 fps but the timeline runs at 23.976"):
        align_subtitle_cues(cues, tin, TimelineOptions(subtitle_fps=Fraction(25)), "pal.srt")
    # round-number times say nothing about a rate
    assert grid_rates(read_cues(make_srt(tmp_path / "r.srt", [(k * 500, k * 500 + 400, "x") for k in range(1, 20)]))) is None


def test_cue_timeline_at_another_rate(tmp_path):
    tin = _cut(tmp_path, RATES["23.976"], 24 * 30)
    cues_tl = make_timeline(RATES["25"], 25 * 30, markers=[(25, 50, "GREEN", "Alice: hi", "")])
    sub = write_otio(cues_tl, tmp_path / "cues.otio")
    with pytest.raises(DubError, match="cues.otio: global_start_time: the subtitles are timed at 25 fps but the "
                                       "timeline runs at 23.976 fps"):
        read_cues_for_timeline(sub, tin, TimelineOptions(marker_color="GREEN"))


def test_a_48k_clock_is_not_a_frame_rate(tmp_path):
    """A master of a subtitle-only run starts at 0 @ 48 000: that is no frame rate to dub against."""
    import opentimelineio as otio

    tl = otio.schema.Timeline(name="master", global_start_time=otio.opentime.RationalTime(0, 48000))
    a = otio.schema.Track(name="Alice", kind=otio.schema.TrackKind.Audio)
    a.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(96000, 48000))))
    tl.tracks.append(a)
    p = write_otio(tl, tmp_path / "master.otio")
    with pytest.raises(DubError, match="no video track and no global start time"):
        open_timeline(p)
    assert open_timeline(p, TimelineOptions(fps=Fraction(24))).rate == 24


def test_a_timelines_own_dialogue_is_decided_like_a_subtitle_files(tmp_path):
    # sound descriptions and lyrics on a dialogue track are skipped with their reason, dash
    # dialogue is split into its parts sharing the clip's slot, as a subtitle file's cues are
    from indextts_dub.cues.timeline_cues import load_cues

    tl = make_timeline(RATES["25"], 500, dialogue_track=[(25, 50, "[DOOR SLAMS]"), (100, 50, "- Who's there?\n- Me."),
                                                         (200, 25, "♪ la la la ♪"), (250, 50, "Alice: Fine.")])
    path = write_otio(tl, tmp_path / "cut.otio")
    cues, tin, _ = load_cues(path, None, None, TimelineOptions(dialogue_track="dialogue", allow_offline_media=True))
    assert [(c.text, c.speaker, c.turn) for c in cues] == [("Who's there?", None, 1), ("Me.", None, 2),
                                                            ("Fine.", "Alice", 0)]
    assert cues[0].start == 192000 and cues[1].end == 288000 and cues[0].end == cues[1].start
    assert [(s.cue.text, s.reason) for s in cues.skipped] == [("[DOOR SLAMS]", "sound description"),
                                                              ("♪ la la la ♪", "lyrics (♪)")]
