"""The master timeline: OpenTimelineIO, every time in samples at 48 000 Hz, exact.

One audio track per character, each fitted clip at its planned start sample (gaps
between them), media referencing the clip's WAV. Our facts about each clip live under
``metadata["indextts_dub"]``. With a video, a picture track references it too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...clips import Clip
from ..plan_json import line_casting
from ...media import VideoInfo
from ...cues.otio_json import KEY
from ...timebase import SAMPLE_RATE



def _rt(samples: int, rate: float = SAMPLE_RATE):
    import opentimelineio as otio

    return otio.opentime.RationalTime(samples, rate)


def _range(start: int, duration: int, rate: float = SAMPLE_RATE):
    import opentimelineio as otio

    return otio.opentime.TimeRange(_rt(start, rate), _rt(duration, rate))


def clip_metadata(clip: Clip, media: Path) -> dict[str, Any]:
    ln = clip.line
    return {
        "index": ln.index,
        "cue_id": ln.cue.id,
        "text": ln.text,
        "speech": ln.speech_text,
        "character": ln.character,
        "voice": ln.voice,
        "language": ln.language,
        "speed": round(clip.speed, 4),
        "engine_speed": round(clip.engine_speed, 4),
        "residual_stretch": round(clip.residual, 4),
        "start_sample": clip.start,
        "length_samples": clip.length,
        "natural_samples": clip.natural,
        "source": {"file": ln.cue.file, "line": ln.cue.line},
        "media": media.name,
        "warnings": list(clip.warnings),
        **({"qa": clip.qa} if clip.qa is not None else {}),
        **line_casting(ln),
    }


def warning_marker(clip: Clip, rate: float = SAMPLE_RATE, start: int | None = None, duration: int | None = None):
    """A marker over a clip that has warnings: its name says the first, its comment all of them."""
    import opentimelineio as otio

    ln = clip.line
    first = clip.warnings[0] if clip.warnings else ""
    m = otio.schema.Marker(name=f"{ln.index:04d} {ln.character}: {first}"[:120],
                           marked_range=_range(clip.start if start is None else start,
                                               clip.length if duration is None else duration, rate),
                           color=otio.schema.MarkerColor.ORANGE)
    m.comment = "\n".join(clip.warnings)
    m.metadata[KEY] = {"warning": True, "index": ln.index, "warnings": list(clip.warnings)}
    return m


def clip_name(clip: Clip) -> str:
    return f"{clip.line.index:04d} {clip.line.character}: {clip.line.text}"[:120]


def dub_tracks(character: str, clips: list[Clip], media: dict[int, Path], programme: int) -> list:
    """A character's audio tracks at 48 kHz: normally one; a character's clips overlap only where
    the plan reports an overrun, and those go on extra tracks named "X (overlap 1)"."""
    layers: list[list[Clip]] = []
    for clip in sorted((c for c in clips if c.line.character == character), key=lambda c: c.start):
        for layer in layers:
            if layer[-1].end <= clip.start:
                layer.append(clip)
                break
        else:
            layers.append([clip])
    return [dub_track(character if k == 0 else f"{character} (overlap {k})", character, layer, media, programme)
            for k, layer in enumerate(layers or [[]])]


def dub_track(name: str, character: str, layer: list[Clip], media: dict[int, Path], programme: int):
    """One audio track at 48 kHz: each clip of ``layer`` (not overlapping) on its start sample,
    gaps between, a trailing gap to the programme's end, a warning marker over each clip that
    has warnings."""
    import opentimelineio as otio

    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    track.metadata[KEY] = {"character": character}
    pos = 0
    for clip in layer:
        if clip.start > pos:
            track.append(otio.schema.Gap(source_range=_range(0, clip.start - pos)))
        elif clip.start < pos:
            raise ValueError(f"clips of {character} overlap at sample {clip.start}")
        path = media[clip.line.index]
        ref = otio.schema.ExternalReference(target_url=path.resolve().as_uri(),
                                            available_range=_range(0, clip.length))
        oc = otio.schema.Clip(name=clip_name(clip), media_reference=ref, source_range=_range(0, clip.length))
        oc.metadata[KEY] = clip_metadata(clip, path)
        track.append(oc)
        if clip.warnings:
            track.markers.append(warning_marker(clip))
        pos = clip.end
    if programme > pos:
        track.append(otio.schema.Gap(source_range=_range(0, programme - pos)))
    return track


def build(clips: list[Clip], characters: list[str], media: dict[int, Path], programme: int, name: str,
          video: VideoInfo | None = None, extra: dict[str, Any] | None = None):
    """An ``otio.schema.Timeline``; ``media`` maps ``Line.index`` to the clip's final WAV path."""
    import opentimelineio as otio

    # the timeline's rate is the picture's when there is one (editors read it from here)
    tl = otio.schema.Timeline(name=name, global_start_time=_rt(0, float(video.fps) if video is not None else SAMPLE_RATE))
    tl.metadata[KEY] = {"sample_rate": SAMPLE_RATE, "programme_samples": programme, **(extra or {})}
    if video is not None:
        vt = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
        fps = float(video.fps)
        ref = otio.schema.ExternalReference(
            target_url=Path(video.path).resolve().as_uri(), available_range=_range(0, video.frames, fps))
        vt.append(otio.schema.Clip(name=Path(video.path).name, media_reference=ref,
                                   source_range=_range(0, video.frames, fps)))
        tl.tracks.append(vt)
    for character in characters:
        tl.tracks.extend(dub_tracks(character, clips, media, programme))
    return tl
