"""Timelines, videos and subtitles for the timeline tests, made here from scratch."""
from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from indextts_dub import media, timebase

RATES = {"23.976": Fraction(24000, 1001), "24": Fraction(24), "25": Fraction(25),
         "29.97": Fraction(30000, 1001), "30": Fraction(30)}


def make_video(path: Path, rate: Fraction, frames: int, size: str = "64x36") -> Path:
    """A small real video (testsrc, H.264) of exactly ``frames`` frames at ``rate``."""
    subprocess.run([media.ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc=size={size}:rate={rate.numerator}/{rate.denominator}",
                    "-frames:v", str(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def rt(v, rate: Fraction):
    import opentimelineio as otio

    return otio.opentime.RationalTime(v, timebase.rate_float(rate))


def tr(start, dur, rate: Fraction):
    import opentimelineio as otio

    return otio.opentime.TimeRange(rt(start, rate), rt(dur, rate))


def make_timeline(rate: Fraction, frames: int, video: Path | None = None, start_tc: str | None = None,
                  name: str = "cut", markers: list[tuple[int, int, str, str, str]] = (),
                  dialogue_track: list[tuple[int, int, str]] | None = None):
    """A cut: one picture track of ``frames`` frames (a real video when given), a global
    start timecode, markers ``(frame, frames, colour, name, comment)`` on the stack, an
    optional 'Dialogue' track of clips ``(frame, frames, text)``."""
    import opentimelineio as otio

    gst = otio.opentime.from_timecode(start_tc, timebase.rate_float(rate)) if start_tc else rt(0, rate)
    tl = otio.schema.Timeline(name=name, global_start_time=gst)
    tl.metadata["studio"] = {"show": "test", "reel": 7}
    v = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    if video is not None:
        ref = otio.schema.ExternalReference(target_url=video.resolve().as_uri(), available_range=tr(0, frames, rate))
    else:
        ref = otio.schema.MissingReference()
    clip = otio.schema.Clip(name="picture", media_reference=ref, source_range=tr(0, frames, rate))
    clip.metadata["grade"] = {"look": "warm"}
    clip.effects.append(otio.schema.Effect(name="blur", effect_name="Blur", metadata={"amount": 0.2}))
    v.append(clip)
    tl.tracks.append(v)
    for f, n, color, mname, comment in markers:
        m = otio.schema.Marker(name=mname, marked_range=tr(f, n, rate), color=color)
        m.comment = comment
        tl.tracks.markers.append(m)
    if dialogue_track is not None:
        d = otio.schema.Track(name="Dialogue", kind=otio.schema.TrackKind.Video)
        pos = 0
        for f, n, text in dialogue_track:
            if f > pos:
                d.append(otio.schema.Gap(source_range=tr(0, f - pos, rate)))
            d.append(otio.schema.Clip(name=text, source_range=tr(0, n, rate)))
            pos = f + n
        tl.tracks.append(d)
    return tl


def write_otio(tl, path: Path) -> Path:
    import opentimelineio as otio

    otio.adapters.write_to_file(tl, str(path), adapter_name="otio_json")
    return path


def srt_time(ms: int) -> str:
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def make_srt(path: Path, cues: list[tuple[int, int, str]], offset_ms: int = 0) -> Path:
    """``cues``: (start ms, end ms, text) in programme time; ``offset_ms`` is added (a timecode clock)."""
    body = "\n".join(f"{i}\n{srt_time(a + offset_ms)} --> {srt_time(b + offset_ms)}\n{t}\n"
                     for i, (a, b, t) in enumerate(cues, start=1))
    path.write_text(body, encoding="utf-8")
    return path


TOY_CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: low\n"

# well separated lines (no two characters sound at once), starts off any frame grid
TOY_CUES = [(517, 2003, "Alice: Hello there."), (2511, 4007, "Bob: Good to see you."),
            (4523, 5911, "Alice: Shall we start?"), (6217, 8409, "Bob: Yes, right now.")]


def onsets(x: np.ndarray, starts: list[int], window: int, threshold: float = 0.02) -> list[int | None]:
    """For each expected start, the first sample in [start - window, start + window] above the threshold."""
    out = []
    for s in starts:
        a = max(0, s - window)
        seg = np.abs(x[a: s + window])
        idx = np.flatnonzero(seg > threshold)
        out.append(int(a + idx[0]) if idx.size else None)
    return out


def first_above(x: np.ndarray, threshold: float = 0.02) -> int:
    idx = np.flatnonzero(np.abs(x) > threshold)
    return int(idx[0]) if idx.size else -1


REALWORLD_OTIO = ("premiere_example.otio", "multitrack.otio", "nested_example.otio", "transition_test.otio")


def realworld_otio(name: str) -> Path:
    """A real-world OTIO file: the shared copy when present, else the one under tests/data."""
    from .paths import DATA, SHARED_REALWORLD

    shared = SHARED_REALWORLD / "otio" / name
    return shared if shared.exists() else DATA / "realworld" / "otio" / name


def planned_onsets(res, out: Path, threshold: float = 0.02) -> list[int]:
    """Where each line's sound should start: its planned start sample plus the first sample of
    its written clip (gain applied) above the threshold."""
    import soundfile as sf

    starts = []
    for c in res.clips:
        x, _ = sf.read(str(out / "clips" / f"{c.line.index:04d}_{c.line.character}.wav"), dtype="float32")
        starts.append(c.start + first_above(x, threshold))
    return starts
