"""What the Blender add-on does, without Blender: read a dub timeline into strips to place,
turn the scene's text strips into a cue timeline, run the dub.

Kept free of ``bpy`` so the same code is importable (and testable) outside Blender.
"""
from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

KEY = "indextts_dub"      # indextts_dub.cues.otio_json.KEY: the add-on also runs without the package


@dataclass
class StripSpec:
    name: str
    filepath: str
    channel: int
    frame: int             # timeline frame (0 = the timeline's first frame)
    frames: int
    character: str
    line: int | None = None
    lead_samples: int = 0


@dataclass
class DubImport:
    rate: Fraction
    frames: int            # the timeline's length in frames
    strips: list[StripSpec] = field(default_factory=list)
    markers: list[tuple[int, str]] = field(default_factory=list)   # (frame, name): warnings
    characters: list[str] = field(default_factory=list)
    source: str = ""


def _rate(r: float) -> Fraction:
    if abs(r - round(r)) < 1e-9:
        return Fraction(round(r))
    for base in (24, 30, 48, 60, 120):
        if abs(r - base * 1000 / 1001) < 1e-3:
            return Fraction(base * 1000, 1001)
    return Fraction(r).limit_denominator(1001)


def editor_copy_of(path: Path) -> Path:
    """A master ``timeline.otio`` (dub tracks at 48 kHz) -> its ``editor/timeline.otio`` copy."""
    if path.is_dir():
        path = path / "editor" / "timeline.otio"
    elif path.parent.name != "editor" and (path.parent / "editor" / "timeline.otio").is_file():
        path = path.parent / "editor" / "timeline.otio"
    return path


def read_dub_timeline(path: str | Path, first_channel: int = 1) -> DubImport:
    """Strips for every clip of every dub track of an editor copy (frame-rate timeline).

    Each character gets its own channel, in track order, from ``first_channel`` up. Frames are
    counted from the timeline's first frame; the media of each clip already carries the
    sub-frame remainder as leading silence, so placing it on its frame is sample-exact.
    """
    import opentimelineio as otio

    path = editor_copy_of(Path(path))
    try:
        from indextts_dub.cues.timeline_in import TimelineOptions, open_timeline

        tl = open_timeline(path, TimelineOptions(allow_offline_media=True), check_media=False).timeline
    except ImportError:
        tl = otio.adapters.read_from_file(str(path))
    own = dict(tl.metadata[KEY]) if KEY in tl.metadata else {}
    dub_tracks = [t for t in tl.tracks if isinstance(t, otio.schema.Track) and KEY in t.metadata
                  and t.metadata[KEY].get("character") is not None]
    if not dub_tracks:
        raise ValueError(f"{path}: no dub tracks (tracks with metadata['{KEY}']['character'])")
    rate = None
    if own.get("frame_rate"):
        rate = Fraction(str(own["frame_rate"]))
    out = DubImport(rate=rate or Fraction(24), frames=0, source=str(path))
    for ch_index, track in enumerate(dub_tracks):
        character = str(track.metadata[KEY]["character"])
        out.characters.append(character)
        for i, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip):
                continue
            r = track.range_of_child_at_index(i)
            item_rate = _rate(r.start_time.rate)
            if item_rate == 48000:
                raise ValueError(f"{path}: the dub tracks are at 48 kHz (a master timeline); import "
                                 "editor/timeline.otio, whose clips start on frames")
            if rate is None:
                rate = out.rate = item_rate
            md = dict(item.metadata[KEY]) if KEY in item.metadata else {}
            ec = dict(md.get("editor_copy") or {})
            from opentimelineio import url_utils

            out.strips.append(StripSpec(
                name=item.name, filepath=url_utils.filepath_from_url(item.media_reference.target_url),
                channel=first_channel + ch_index, frame=round(r.start_time.value), frames=round(r.duration.value),
                character=character, line=md.get("index"), lead_samples=int(ec.get("lead_samples", 0))))
        for m in track.markers:
            out.markers.append((round(m.marked_range.start_time.value), m.name))
    out.frames = round(tl.duration().rescaled_to(float(out.rate)).value)
    return out


def blender_fps(rate: Fraction) -> tuple[int, float]:
    """Blender's (fps, fps_base) for a rate: 23.976 -> (24, 1.001)."""
    fps = math.ceil(rate)
    return fps, float(Fraction(fps) / rate)


@dataclass
class TextCue:
    frame_start: int       # scene frames, from the scene's first frame
    frame_end: int
    text: str
    character: str | None = None


def cue_timeline(cues: list[TextCue], rate: Fraction, frames: int, path: Path, name: str = "scene") -> Path:
    """A timeline of the scene: a picture-less 'Scene' track as long as the scene (its rate and
    length) and a 'Dialogue' track of clips, one per text strip (name = text, character in metadata)."""
    import opentimelineio as otio

    r = float(rate)

    def tr(a, n):
        return otio.opentime.TimeRange(otio.opentime.RationalTime(a, r), otio.opentime.RationalTime(n, r))

    tl = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(0, r))
    scene = otio.schema.Track(name="Scene", kind=otio.schema.TrackKind.Video)
    scene.append(otio.schema.Gap(source_range=tr(0, frames)))
    tl.tracks.append(scene)
    dlg = otio.schema.Track(name="Dialogue", kind=otio.schema.TrackKind.Video)
    pos = 0
    for c in sorted(cues, key=lambda c: c.frame_start):
        if c.frame_start < pos:
            raise ValueError(f"text strips overlap at frame {c.frame_start}: the dialogue track needs one line at a time")
        if c.frame_start > pos:
            dlg.append(otio.schema.Gap(source_range=tr(0, c.frame_start - pos)))
        clip = otio.schema.Clip(name=c.text, source_range=tr(0, c.frame_end - c.frame_start))
        clip.metadata[KEY] = {"text": c.text, **({"character": c.character} if c.character else {})}
        dlg.append(clip)
        pos = c.frame_end
    tl.tracks.append(dlg)
    otio.adapters.write_to_file(tl, str(path), adapter_name="otio_json")
    return path


def dub_command(command: str, timeline: Path, out: Path, cast: str | None = None, subtitles: str | None = None,
                extra: list[str] | None = None) -> list[str]:
    """The command line that dubs ``timeline`` (a scene cue timeline or any timeline)."""
    args = shlex.split(command) + ["dub", str(timeline), "-o", str(out), "-q"]
    if subtitles:
        args += ["--subtitles", subtitles]
    else:
        args += ["--dialogue-track", "Dialogue"]
    if cast:
        args += ["--cast", cast]
    args += ["--editor-copies", "otio"]
    return args + list(extra or [])


def run_dub(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=dict(os.environ))


def summary_json(imp: DubImport) -> str:
    return json.dumps({"rate": str(imp.rate), "frames": imp.frames,
                       "strips": [s.__dict__ for s in imp.strips]}, indent=2)
