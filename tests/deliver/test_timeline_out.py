"""Timelines out: the input timeline unchanged plus dub tracks (master at 48 kHz, sample
exact), editor copies at the frame rate (clip starts on frames, the remainder as leading
silence), checked on every real-world OTIO file, at 23.976/24/25/29.97 DF/30 fps, from FCP 7
XML, .kdenlive and AAF inputs, by an ffmpeg render and by re-reading the FCP XML."""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from support.paths import run_cli, write
from indextts_dub import dub, timebase
from indextts_dub.deliver.timelines import render as otio_render
from indextts_dub.errors import DubError
from indextts_dub.cues.timeline_in import TimelineOptions, open_timeline
from support.timeline_helpers import (RATES, REALWORLD_OTIO, TOY_CAST, TOY_CUES, make_srt, make_timeline,
                              make_video, onsets, planned_onsets, realworld_otio, write_otio)

ALLOW = TimelineOptions(allow_offline_media=True)
RW_CUES = [(317, 1503, "Alice: Hello there."), (1811, 3007, "Bob: Good to see you."),
           (3323, 4411, "Alice: Shall we go?"), (4617, 5809, "Bob: Yes.")]


def read(path: Path):
    return open_timeline(path, ALLOW, check_media=False)


def otio_json(obj) -> dict:
    import opentimelineio as otio

    return json.loads(otio.adapters.write_to_string(obj, adapter_name="otio_json"))


def dub_tracks(tl):
    return [t for t in tl.tracks if "indextts_dub" in t.metadata and t.metadata["indextts_dub"].get("character")]


def placed(track):
    import opentimelineio as otio

    return [(track.range_of_child_at_index(i), c) for i, c in enumerate(track) if isinstance(c, otio.schema.Clip)]


def strip_ours(doc: dict, n_original: int) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["metadata"].pop("indextts_dub")
    doc["tracks"]["children"] = doc["tracks"]["children"][:n_original]
    return doc


def check_master(res, out: Path, n_original_tracks: int):
    """Dub tracks: one per character, every clip on its planned sample with its exact length."""
    tl = read(out / "timeline.otio").timeline
    tracks = dub_tracks(tl)
    assert [t.name for t in tracks] == list(dict.fromkeys(c.line.character for c in res.clips))
    assert len(tl.tracks) == n_original_tracks + len(tracks)
    by_index = {c.line.index: c for c in res.clips}
    seen = 0
    for t in tracks:
        assert t.kind == "Audio"
        for r, clip in placed(t):
            md = clip.metadata["indextts_dub"]
            c = by_index[md["index"]]
            assert (r.start_time.rate, r.duration.rate) == (48000, 48000)
            assert (r.start_time.value, r.duration.value) == (c.start, c.length)
            assert md["character"] == t.name and md["start_sample"] == c.start
            path = Path(__import__("opentimelineio").url_utils.filepath_from_url(clip.media_reference.target_url))
            assert path.is_file() and sf.info(str(path)).frames == c.length
            seen += 1
        warned = [m for m in t.markers if m.metadata["indextts_dub"]["warning"]]
        assert sorted(m.metadata["indextts_dub"]["index"] for m in warned) == sorted(
            c.line.index for c in res.clips if c.warnings and c.line.character == t.name)
        for m in warned:
            c = by_index[m.metadata["indextts_dub"]["index"]]
            assert (m.marked_range.start_time.value, m.marked_range.duration.value) == (c.start, c.length)
            assert m.comment == "\n".join(c.warnings)
    assert seen == len(res.clips)
    return tl


def check_editor_copy(res, out: Path, rate):
    """Each clip on the frame at or before its sample; media = lead silence + the line, exactly."""
    tl = read(out / "editor" / "timeline.otio").timeline
    by_index = {c.line.index: c for c in res.clips}
    for t in dub_tracks(tl):
        for r, clip in placed(t):
            md = clip.metadata["indextts_dub"]
            ec = md["editor_copy"]
            c = by_index[md["index"]]
            assert timebase.rate_fraction(r.start_time.rate) == rate and r.start_time.value == int(r.start_time.value)
            frame = int(r.start_time.value)
            assert frame == timebase.frame_at(c.start, rate) == ec["frame"]
            lead = c.start - timebase.frame_to_sample(frame, rate)
            assert ec["lead_samples"] == lead and 0 <= lead < timebase.samples_per_frame(rate)
            media, sr = sf.read(str(Path(__import__("opentimelineio").url_utils.filepath_from_url(
                clip.media_reference.target_url))), dtype="float32")
            assert sr == 48000
            assert media.size == timebase.frame_to_sample(frame + int(r.duration.value), rate) - timebase.frame_to_sample(frame, rate)
            master, _ = sf.read(str(out / "clips" / Path(clip.media_reference.target_url).name), dtype="float32")
            if not ec["carries_tail_of"] and not ec["absorbed"]:
                assert not np.any(media[:lead])
            kept = min(master.size, media.size - lead)
            assert np.array_equal(media[lead: lead + kept], master[:kept])
            assert not np.any(master[kept:])          # anything cut off at the next clip's frame was silence
    return tl


def check_render(timeline_path: Path, res, tolerance: int):
    """ffmpeg render of the timeline: every clip's onset within ``tolerance`` samples of the plan."""
    tin = read(timeline_path)
    wav = timeline_path.with_name(timeline_path.stem + "_render.wav")
    otio_render.render(tin.timeline, wav, tin.length, base=tin.path)
    x, sr = sf.read(str(wav), dtype="float32")
    assert sr == 48000 and x.size == tin.length
    out = timeline_path.parent.parent if timeline_path.parent.name == "editor" else timeline_path.parent
    exp = planned_onsets(res, out)
    got = onsets(x, exp, 2000)
    assert all(g is not None and abs(g - e) <= tolerance for g, e in zip(got, exp)), (exp, got)
    return x


def check_fcp_xml(out: Path, rate, start_frame: int, drop: bool):
    """Re-read by the adapter: the same clip positions as the editor .otio copy; the blocks Resolve needs."""
    import opentimelineio as otio

    xml = out / "editor" / "timeline.xml"
    root = ET.parse(xml).getroot()
    seq = root.find("./project/children/sequence")
    sc = seq.find("./media/video/format/samplecharacteristics")
    assert sc is not None and sc.find("width") is not None and sc.find("rate/timebase") is not None
    assert seq.find("./media/audio/format/samplecharacteristics/samplerate").text == "48000"
    tc = seq.find("timecode")
    assert tc.findtext("string") == timebase.smpte(start_frame, rate, drop)
    assert tc.findtext("displayformat") == ("DF" if drop else "NDF")
    assert seq.findtext("rate/timebase") == str(-(-rate.numerator // rate.denominator))
    assert seq.findtext("rate/ntsc") == ("TRUE" if rate.denominator == 1001 else "FALSE")
    back = otio.adapters.read_from_file(str(xml), adapter_name="fcp_xml")
    copy = read(out / "editor" / "timeline.otio").timeline
    want = [[(int(r.start_time.value), int(r.duration.value), Path(c.media_reference.target_url).name)
             for r, c in placed(t)] for t in dub_tracks(copy)]
    audio = [t for t in back.tracks if t.kind == "Audio"]
    got = [[(round(r.start_time.rescaled_to(float(rate)).value), round(r.duration.rescaled_to(float(rate)).value),
             Path(c.media_reference.target_url).name) for r, c in placed(t)] for t in audio[-len(want):]]
    assert got == want
    assert timebase.rate_fraction(back.global_start_time.rate) == rate and round(back.global_start_time.value) == start_frame


# ---------------------------------------------------------------- every real-world timeline

@pytest.mark.parametrize("name", REALWORLD_OTIO)
def test_realworld_timeline_round_trip(name, tmp_path, toy_engine):
    src = tmp_path / name
    shutil.copy(realworld_otio(name), src)
    src.chmod(0o644)
    original = json.loads(src.read_text(encoding="utf-8"))
    n = len(original["tracks"]["children"])
    res = dub(make_srt(tmp_path / "ep.srt", RW_CUES), timeline=src, cast=write(tmp_path / "cast.yaml", TOY_CAST),
              out=tmp_path / "out", timeline_options=ALLOW)
    out = tmp_path / "out"
    # the original parts, field by field: as written (JSON) ...
    master_doc = json.loads((out / "timeline.otio").read_text(encoding="utf-8"))
    assert strip_ours(master_doc, n) == original
    editor_doc = json.loads((out / "editor" / "timeline.otio").read_text(encoding="utf-8"))
    assert strip_ours(editor_doc, n) == original
    # ... and as OpenTimelineIO reads them (every track, clip, marker, effect, metadata)
    before, after = read(src).timeline, check_master(res, out, n)
    for a, b in zip(before.tracks, list(after.tracks)[:n]):
        assert otio_json(a) == otio_json(b)
    assert otio_json(before.tracks.markers[0]) == otio_json(after.tracks.markers[0]) if before.tracks.markers else True
    meta_after = otio_json(after)["metadata"]
    meta_after.pop("indextts_dub")
    assert meta_after == otio_json(before)["metadata"]
    own = after.metadata["indextts_dub"]
    assert own["source_timeline"]["file"] == str(src) and own["programme_samples"] == read(src).length
    rate = read(src).rate
    check_editor_copy(res, out, rate)
    check_render(out / "timeline.otio", res, tolerance=1)
    check_render(out / "editor" / "timeline.otio", res, tolerance=1)
    check_fcp_xml(out, rate, 0, False)
    with zipfile.ZipFile(out / "editor" / "timeline.otioz") as z:
        names = set(z.namelist())
        content = json.loads(z.read("content.otio"))
    assert {"version.txt", "content.otio"} <= names
    assert {f"media/{p.name}" for p in (out / "editor" / "media").iterdir()} <= names
    refs = [c["media_references"]["DEFAULT_MEDIA"]["target_url"] for t in content["tracks"]["children"][n:]
            for c in t["children"] if c["OTIO_SCHEMA"].startswith("Clip")]
    assert refs and all(r.startswith("media/") for r in refs)
    assert (out / "editor" / "timeline.kdenlive").is_file()


# ---------------------------------------------------------------- every frame rate, exact

@pytest.mark.parametrize("label", list(RATES))
def test_frame_rates_exact(label, tmp_path, toy_engine):
    rate = RATES[label]
    frames = int(12 * rate)
    tc = "01:00:00;00" if label == "29.97" else "01:00:00:00"
    video = make_video(tmp_path / "pic.mp4", rate, frames)
    cut = write_otio(make_timeline(rate, frames, video, start_tc=tc), tmp_path / "cut.otio")
    srt = make_srt(tmp_path / "ep.srt", TOY_CUES, offset_ms=3_600_000)         # on the timecode clock
    res = dub(srt, timeline=cut, cast=write(tmp_path / "cast.yaml", TOY_CAST), out=tmp_path / "out")
    out = tmp_path / "out"
    assert [c.start for c in res.clips] == [a * 48 for a, _b, _t in TOY_CUES]
    assert any(c.start % timebase.samples_per_frame(rate) for c in res.clips)      # starts between frames
    tin = read(cut)
    check_master(res, out, 1)
    check_editor_copy(res, out, rate)
    check_render(out / "timeline.otio", res, tolerance=1)
    check_render(out / "editor" / "timeline.otio", res, tolerance=1)
    check_fcp_xml(out, rate, tin.start_frame, label == "29.97")
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["programme_samples"] == tin.length == timebase.frame_to_sample(frames, rate)


def test_23976_clip_of_24_frames_is_48048_samples(tmp_path, toy_engine):
    rate = RATES["23.976"]
    cut = write_otio(make_timeline(rate, 24 * 10), tmp_path / "cut.otio")
    res = dub(make_srt(tmp_path / "ep.srt", [(1001, 2002, "Alice: Hi."), (3003, 5005, "Bob: Hello.")]),
              timeline=cut, cast=write(tmp_path / "cast.yaml", TOY_CAST), out=tmp_path / "out")
    # 1.001 s = 24 frames at 23.976 = 48 048 samples: on a frame boundary, no leading silence
    assert res.clips[0].start == 48048
    copy = read(tmp_path / "out" / "editor" / "timeline.otio").timeline
    first = placed(dub_tracks(copy)[0])[0]
    assert first[0].start_time.value == 24 and first[1].metadata["indextts_dub"]["editor_copy"]["lead_samples"] == 0


# ---------------------------------------------------------------- a frame shared by two lines

def test_lines_sharing_a_frame_lose_nothing(tmp_path, toy_engine):
    rate = RATES["24"]
    cut = write_otio(make_timeline(rate, 24 * 10), tmp_path / "cut.otio")
    # Alice's first line is squeezed into its slot (sound to its last sample); her next line starts
    # 10 ms later, inside the same frame; a 20 ms line of Bob's lies within one frame
    cues = [(510, 1503, "Alice: This line is much too long for the little slot it has."),
            (1513, 3000, "Alice: Next."), (4005, 4025, "Bob: x"), (4030, 6000, "Bob: Then this.")]
    from indextts_dub.plan import PlanOptions

    # Alice's long line squeezed into its slot (a high compress cap), ending where her next line starts
    dub(make_srt(tmp_path / "ep.srt", cues), timeline=cut, cast=write(tmp_path / "cast.yaml", TOY_CAST),
         out=tmp_path / "out",
         plan_options=PlanOptions(compress_cap=8.0, min_gap_ms=0, lead_in_ms=0))
    out = tmp_path / "out"
    copy = read(out / "editor" / "timeline.otio").timeline
    alice, bob = dub_tracks(copy)
    second = placed(alice)[1][1].metadata["indextts_dub"]["editor_copy"]
    assert list(second["carries_tail_of"]) == [1]
    assert list(placed(bob)[0][1].metadata["indextts_dub"]["editor_copy"]["absorbed"]) == [3]
    length = read(out / "timeline.otio").length
    mix, _ = sf.read(str(out / "dub.wav"), dtype="float32")
    a, _ = sf.read(str(otio_render.render(read(out / "timeline.otio").timeline, out / "master.wav", length)), dtype="float32")
    b, _ = sf.read(str(otio_render.render(copy, out / "copy.wav", length)), dtype="float32")
    assert np.max(np.abs(a - mix)) < 1e-6          # the master plays the mix, sample for sample
    assert np.max(np.abs(b - a)) < 1e-6            # and so does the editor copy


# ---------------------------------------------------------------- other input formats

def _synthetic(tmp_path, rate=RATES["25"], frames=250):
    video = make_video(tmp_path / "pic.mp4", rate, frames)
    tl = make_timeline(rate, frames, video)
    return tl, video


@pytest.mark.parametrize("adapter,suffix", [("fcp_xml", "xml"), ("kdenlive", "kdenlive"), ("AAF", "aaf")])
def test_other_formats_come_in_the_same_way(adapter, suffix, tmp_path, toy_engine):
    import opentimelineio as otio

    if adapter == "AAF":
        pytest.importorskip("otio_aaf_adapter")
    tl, _video = _synthetic(tmp_path)
    src = tmp_path / f"cut.{suffix}"
    kwargs = {"use_empty_mob_ids": True} if adapter == "AAF" else {}
    otio.adapters.write_to_file(tl, str(src), adapter_name=adapter, **kwargs)
    before = read(src)
    assert before.adapter == adapter and before.rate == 25
    res = dub(make_srt(tmp_path / "ep.srt", TOY_CUES), timeline=src, cast=write(tmp_path / "cast.yaml", TOY_CAST),
              out=tmp_path / "out", timeline_options=ALLOW)
    n = len(before.timeline.tracks)
    after = check_master(res, tmp_path / "out", n)
    for a, b in zip(before.timeline.tracks, list(after.tracks)[:n]):
        assert otio_json(a) == otio_json(b)
    check_render(tmp_path / "out" / "timeline.otio", res, tolerance=1)


def test_dubbing_a_dubbed_timeline_replaces_its_dub_tracks(tmp_path, toy_engine):
    cut = write_otio(make_timeline(RATES["24"], 24 * 10), tmp_path / "cut.otio")
    cast = write(tmp_path / "cast.yaml", TOY_CAST)
    dub(make_srt(tmp_path / "ep.srt", TOY_CUES), timeline=cut, cast=cast, out=tmp_path / "one")
    res = dub(make_srt(tmp_path / "ep2.srt", TOY_CUES[:2]), timeline=tmp_path / "one" / "timeline.otio",
              cast=cast, out=tmp_path / "two")
    tl = read(tmp_path / "two" / "timeline.otio").timeline
    assert [t.name for t in tl.tracks] == ["V1", "Alice", "Bob"]
    assert "replaced 2 dub track(s) of an earlier run in timeline.otio" in res.summary


def test_subtitle_run_with_video_gets_editor_copies_at_thevideo_rate(tmp_path, toy_engine):
    rate = RATES["29.97"]
    video = make_video(tmp_path / "pic.mp4", rate, 300)
    res = dub(make_srt(tmp_path / "ep.srt", TOY_CUES), video=video, cast=write(tmp_path / "cast.yaml", TOY_CAST),
              out=tmp_path / "out")
    check_master(res, tmp_path / "out", 1)
    check_editor_copy(res, tmp_path / "out", rate)
    check_fcp_xml(tmp_path / "out", rate, 0, True)


def test_subtitle_run_without_rate_writes_no_editor_copies(tmp_path, toy_engine):
    res = dub(make_srt(tmp_path / "ep.srt", TOY_CUES), cast=write(tmp_path / "cast.yaml", TOY_CAST), out=tmp_path / "out")
    assert not (tmp_path / "out" / "editor").exists()
    assert "editor copies not written: no frame rate is known" in res.summary
    res = dub(make_srt(tmp_path / "ep.srt", TOY_CUES), cast=write(tmp_path / "cast.yaml", TOY_CAST),
              out=tmp_path / "out2", timeline_options=TimelineOptions(fps=RATES["25"]), editor_copies=("fcp7",))
    assert sorted(p.name for p in (tmp_path / "out2" / "editor").iterdir()) == ["media", "timeline.xml"]


# ---------------------------------------------------------------- the command line

def test_cli_dubs_dialogue_markers(tmp_path, toy_engine):
    import os

    cut = write_otio(make_timeline(RATES["24"], 24 * 10, markers=[
        (12, 36, "GREEN", "Alice", "Alice: Hello there."), (60, 48, "GREEN", "Bob: Nice day.", ""),
        (130, 12, "RED", "note to the grader", "")]), tmp_path / "cut.otio")
    env = {"PYTHONPATH": os.pathsep.join([str(Path(toy_engine.__file__).parent), os.environ.get("PYTHONPATH", "")])}
    res = run_cli("dub", cut, "--marker-color", "GREEN", "--cast", write(tmp_path / "cast.yaml", TOY_CAST),
                  "-o", tmp_path / "out", "-q", env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert [(r["character"], r["text"], r["slot"]["start"]) for r in doc["lines"]] == [
        ("Alice", "Hello there.", 24000), ("Bob", "Nice day.", 120000)]
    assert doc["lines"][0]["source"]["file"] == str(cut) and doc["lines"][0]["source"]["line"] > 0


def _bad(tmp_path, *args, env=None):
    res = run_cli("dub", *args, "-o", tmp_path / "out", "-q", env=env)
    assert res.returncode == 2, res.stderr
    assert not (tmp_path / "out").exists()
    return res.stderr


def test_cli_bad_timelines_exit_2_and_write_nothing(tmp_path):
    broken = tmp_path / "broken.otio"
    broken.write_text('{"OTIO_SCHEMA": "Timeline.1",\n "tracks": {\n}}}\n')
    assert f"{broken}:3: JSON: Extra data" in _bad(tmp_path, broken, "--subtitles", make_srt(tmp_path / "e.srt", TOY_CUES))

    import opentimelineio as otio

    tl = otio.schema.Timeline(name="no rate")
    a = otio.schema.Track(name="A", kind="Audio")
    a.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(480000, 48000))))
    tl.tracks.append(a)
    norate = write_otio(tl, tmp_path / "norate.otio")
    assert "global_start_time: the timeline has no video track and no global start time" in _bad(
        tmp_path, norate, "--subtitles", tmp_path / "e.srt")

    marked = write_otio(make_timeline(RATES["24"], 240, markers=[(12, 36, "GREEN", "", "")]), tmp_path / "m.otio")
    assert "tracks.markers[0].name: dialogue marker at 00:00:00.500 has no text" in _bad(
        tmp_path, marked, "--marker-color", "GREEN")

    gone = tmp_path / "gone.mp4"
    offline = write_otio(make_timeline(RATES["24"], 240, video=gone), tmp_path / "offline.otio")
    err = _bad(tmp_path, offline, "--subtitles", tmp_path / "e.srt")
    assert f"media {gone.as_uri()} does not exist" in err and "--allow-offline-media" in err

    cues25 = write_otio(make_timeline(RATES["25"], 250, markers=[(25, 50, "GREEN", "Alice: hi", "")]), tmp_path / "c.otio")
    cut = write_otio(make_timeline(RATES["23.976"], 240), tmp_path / "cut.otio")
    assert "the subtitles are timed at 25 fps but the timeline runs at 23.976 fps" in _bad(
        tmp_path, cut, "--subtitles", cues25, "--marker-color", "GREEN")

    assert "EDL cannot carry the dub" in _bad(tmp_path, cut, "--subtitles", tmp_path / "e.srt", "--editor-copies", "edl")
    assert "--fps: not a frame rate: 'fast'" in _bad(tmp_path, cut, "--fps", "fast")


def test_bad_timeline_leaves_earlier_outputs_alone(tmp_path, toy_engine):
    cut = write_otio(make_timeline(RATES["24"], 240), tmp_path / "cut.otio")
    cast = write(tmp_path / "cast.yaml", TOY_CAST)
    dub(make_srt(tmp_path / "ep.srt", TOY_CUES), timeline=cut, cast=cast, out=tmp_path / "out")
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    with pytest.raises(DubError):
        dub(make_srt(tmp_path / "late.srt", [(30_000, 31_000, "Alice: late")]), timeline=cut, cast=cast,
            out=tmp_path / "out")
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("label", ["23.976", "29.97"])
def test_editor_copy_converts_to_aaf_with_its_positions(label, tmp_path, toy_engine):
    """For Avid: the editor .otio copy through otio-aaf-adapter keeps every dub clip's frame."""
    import opentimelineio as otio

    pytest.importorskip("otio_aaf_adapter")
    rate = RATES[label]
    cut = write_otio(make_timeline(rate, int(12 * rate), make_video(tmp_path / "pic.mp4", rate, int(12 * rate))),
                     tmp_path / "cut.otio")
    dub(make_srt(tmp_path / "ep.srt", TOY_CUES), timeline=cut, cast=write(tmp_path / "cast.yaml", TOY_CAST),
        out=tmp_path / "out")
    copy = read(tmp_path / "out" / "editor" / "timeline.otio").timeline
    otio.adapters.write_to_file(copy, str(tmp_path / "cut.aaf"), adapter_name="AAF", use_empty_mob_ids=True)
    back = otio.adapters.read_from_file(str(tmp_path / "cut.aaf"))

    def frames(tracks):
        return [[round(t.range_of_child_at_index(i).start_time.value) for i, c in enumerate(t)
                 if isinstance(c, otio.schema.Clip)] for t in tracks if t.kind == "Audio"]

    assert frames(back.tracks) == frames(copy.tracks)
