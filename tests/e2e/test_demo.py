"""The demo dub end to end: every output file, checked with the tools that read them."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import soundfile as sf

from support.paths import DEMO
from indextts_dub import media
from indextts_dub.cues import read_cues

SR = 48_000


def plan_of(demo_run):
    return json.loads((demo_run.out / "plan.json").read_text(encoding="utf-8"))


def test_every_output_exists(demo_run):
    out = demo_run.out
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    expected = ["clips", "dub.wav", "dubbed.mp4", "editor", "plan.json", "report.html", "stems", "timeline.otio",
                "timeline.png"]
    if plan_of(demo_run)["video_retime"]["edits"]:
        expected.append("retime.json")          # suggested picture edits for lines past the speed bound
    assert names == sorted(expected)
    assert sorted(p.name for p in (out / "editor").iterdir()) == [
        "media", "timeline.kdenlive", "timeline.otio", "timeline.otioz", "timeline.xml"]
    assert sorted(p.name for p in (out / "stems").iterdir()) == ["Alice.wav", "Mei.wav", "王老师.wav"]
    assert [p.name for p in sorted((out / "clips").iterdir())] == [
        "0001_Alice.wav", "0002_王老师.wav", "0003_Mei.wav", "0004_Alice.wav", "0005_王老师.wav",
        "0006_Mei.wav", "0007_Mei.wav", "0008_Alice.wav", "0009_王老师.wav"]


def test_clips_are_48k_mono_and_exactly_their_planned_length(demo_run):
    doc = plan_of(demo_run)
    for rec in doc["lines"]:
        path = demo_run.out / "clips" / f"{rec['index']:04d}_{rec['character']}.wav"
        info = sf.info(path)
        assert (info.samplerate, info.channels) == (SR, 1)
        assert info.frames == rec["clip"]["length"]
        # the plan may start a line up to 150 ms early, or (past the compress cap) push it later
        assert -150 * 48 <= rec["clip"]["start"] - rec["slot"]["start"] <= 1000 * 48
        assert rec["clip"]["start"] == rec["slot"]["start"] - rec["lead_samples"] + rec["delay_samples"]
        assert rec["clip"]["length"] >= rec["speech_samples"]
        x, _ = sf.read(path, dtype="float32")
        assert np.sqrt(np.mean(x[: rec["speech_samples"]] ** 2)) > 0.01     # there is speech in it


def test_stems_and_mix_are_programme_length_and_the_mix_is_their_panned_sum(demo_run):
    from indextts_dub.deliver.mix import pan_gains

    video = media.probe(DEMO / "clip.mp4")
    doc = plan_of(demo_run)
    assert doc["programme_samples"] == video.duration == 25 * SR
    stems = {p.stem: sf.read(p, dtype="float64")[0] for p in sorted((demo_run.out / "stems").iterdir())}
    mix, sr = sf.read(demo_run.out / "dub.wav", dtype="float64")
    assert sr == SR and mix.shape == (video.duration, 2) and all(s.size == video.duration for s in stems.values())
    # Mei is panned 0.3 right in the cast: the mix is stereo, each stem placed by equal-power pan
    assert doc["mix"]["pans"] == {"Mei": 0.3}
    expected = np.zeros((video.duration, 2))
    for name, x in stems.items():
        left, right = pan_gains(0.3 if name == "Mei" else 0.0)
        expected[:, 0] += x * left
        expected[:, 1] += x * right
    assert np.max(np.abs(mix - expected)) < 1e-4                 # 24-bit rounding only
    mei = stems["Mei"]
    loud = np.abs(mei) > 0.05
    assert np.mean(np.abs(mix[loud, 1])) > np.mean(np.abs(mix[loud, 0]))   # Mei sits right of centre
    import pyloudnorm
    lufs = pyloudnorm.Meter(SR).integrated_loudness(mix)
    assert abs(lufs - (-23.0)) < 0.1 and abs(doc["mix"]["dialogue_lufs"] - lufs) < 0.05
    assert doc["mix"]["mix_true_peak_dbtp"] <= -1.0


def test_timeline_places_every_clip_on_its_cue_sample(demo_run):
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(demo_run.out / "timeline.otio"))
    cues = {c.line: c for c in read_cues(DEMO / "episode.srt")}
    doc = {r["index"]: r for r in plan_of(demo_run)["lines"]}
    audio_tracks = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert [t.name for t in audio_tracks] == ["Alice", "王老师", "Mei"]
    seen = 0
    for track in audio_tracks:
        for clip in track.find_clips():
            meta = clip.metadata["indextts_dub"]
            rng = clip.range_in_parent()
            assert rng.start_time.rate == SR and rng.duration.rate == SR
            cue = cues[meta["source"]["line"]]
            assert int(rng.start_time.value) == meta["start_sample"] == doc[meta["index"]]["clip"]["start"]
            assert -150 * 48 <= meta["start_sample"] - cue.start <= 1000 * 48
            assert int(rng.duration.value) == doc[meta["index"]]["clip"]["length"] == meta["length_samples"]
            assert meta["character"] == track.name
            assert {"cue_id", "text", "voice", "speed", "engine_speed", "residual_stretch"} <= set(meta)
            assert meta["source"]["file"].endswith("episode.srt")
            path = otio.url_utils.filepath_from_url(clip.media_reference.target_url)
            assert sf.info(path).frames == int(rng.duration.value)
            seen += 1
        assert track.duration().value == 25 * SR
    assert seen == 9
    assert [t.kind for t in tl.tracks][0] == otio.schema.TrackKind.Video


def test_dubbed_video_copies_the_picture_and_carries_dub_then_original(demo_run):
    src = media.probe(DEMO / "clip.mp4")
    out = media.probe(demo_run.out / "dubbed.mp4")
    assert out.packet_md5 == src.packet_md5               # video stream bit-identical
    assert out.duration == src.duration
    head = subprocess.run([media.ffmpeg_exe(), "-hide_banner", "-i", str(demo_run.out / "dubbed.mp4")],
                          capture_output=True, text=True).stderr
    audio = [ln for ln in head.splitlines() if "Audio:" in ln]
    assert len(audio) == 2 and "(default)" in audio[0]
    tb, packets = media.video_packets(demo_run.out / "dubbed.mp4", "0:a:0")
    first = min(p[0] for p in packets)
    end = max(p[0] + p[1] for p in packets)
    audio_samples = round((end - first) * tb * SR)
    assert abs(audio_samples - src.duration) <= 1024      # one AAC frame
    # the first audio track is the dub: its loud parts are where dub.wav is loud
    pcm = subprocess.run([media.ffmpeg_exe(), "-v", "error", "-i", str(demo_run.out / "dubbed.mp4"), "-map", "0:a:0",
                          "-f", "f32le", "-ac", "1", "-ar", str(SR), "-"], capture_output=True).stdout
    decoded = np.frombuffer(pcm, np.float32)
    mix, _ = sf.read(demo_run.out / "dub.wav", dtype="float32")
    mix = mix.mean(axis=1) if mix.ndim == 2 else mix             # ffmpeg downmixed the track the same way
    n = min(decoded.size, mix.size) // 4800 * 4800
    env_a = np.sqrt(np.mean(decoded[:n].reshape(-1, 4800) ** 2, axis=1))
    env_b = np.sqrt(np.mean(mix[:n].reshape(-1, 4800) ** 2, axis=1))
    assert np.corrcoef(env_a, env_b)[0, 1] > 0.95


def test_plan_json_explains_each_line(demo_run):
    doc = plan_of(demo_run)
    assert doc["sample_rate"] == SR and doc["engine"]["name"] == "kokoro"
    by_text = {r["text"]: r for r in doc["lines"]}
    short = by_text["好的。"]
    assert short["speed"] == 1.0 and short["speech_samples"] < short["slot"]["length"]
    assert short["clip"]["length"] == short["slot"]["length"]
    squeezed = by_text["我明白了，我们马上开始准备仪器和材料。"]
    # too long for its slot at natural speed (native Mandarin voice): borrows the silence around it and
    # lands inside the 1.25x bound, the engine doing most of it
    assert 1.15 < squeezed["speed"] <= 1.25 and not squeezed["compressed"]
    assert squeezed["lead_samples"] > 0 and squeezed["spill_samples"] > 0
    assert squeezed["engine_speed"] > 1.1
    nxt = by_text["准备好了！"]
    end = squeezed["clip"]["start"] + squeezed["speech_samples"]
    assert end + doc["bounds"]["min_gap_samples"] <= nxt["clip"]["start"]   # never over Mei's next line
    assert squeezed["overrun_samples"] == 0
    mixed = by_text["对，重量是3.5公斤。这个 deadline 很重要。"]
    assert "三点五" in mixed["speech"] and "deadline" in mixed["speech"]
    for rec in doc["lines"]:
        assert 1.0 <= rec["speed"] <= (1.5 if rec["compressed"] else 1.25) and rec["reason"]
        assert abs(rec["speed"] - rec["natural_samples"] / rec["speech_samples"]) < 1e-3
        assert {"slot", "natural_samples", "speed", "residual_stretch", "warnings"} <= set(rec)
    assert doc["skipped"] and doc["skipped"][0]["reason"] == "music cue"


def test_summary_names_lines_characters_speeds_and_outputs(demo_run):
    s = demo_run.summary
    assert "Dubbed 9 lines, 3 characters" in s and "Speeds:" in s and "Wrote:" in s
    assert "dubbed.mp4" in s and "max 1.2" in s


def test_demo_cast_uses_every_voice_and_emotion_form(demo_run):
    doc = plan_of(demo_run)
    forms = {ch: v["form"] for ch, v in doc["voices"].items()}
    assert forms == {"Alice": "builtin", "王老师": "library", "Mei": "ref"}
    assert doc["voices"]["Mei"]["match"]["similarity"] > 0.8             # how close the built-in voice is
    assert doc["voices"]["王老师"]["consent"]["for"]
    kinds = {r["emotion"]["kind"] for r in doc["lines"] if r["emotion"]}
    assert kinds == {"preset", "vector", "ref", "text"}
    assert sum("cannot render emotion" in w for w in doc["warnings"]) == 1
    assert "Voices:" in demo_run.summary and "IndexTTS2" in demo_run.summary


def test_report_and_timeline_picture_are_written(demo_run):
    page = (demo_run.out / "report.html").read_text(encoding="utf-8")
    assert page.count('class="lane"') == 3 and "王老师" in page and "clips/0006_Mei.wav" in page
    import re
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)     # self-contained: nothing to fetch
    assert "<script src" not in page and "<link" not in page
    from PIL import Image
    img = Image.open(demo_run.out / "timeline.png")
    assert img.size[0] > 800 and img.size[1] > 100
