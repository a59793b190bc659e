"""The master timeline: OpenTimelineIO, every time in samples at 48 000 Hz, exact.

One audio track per character, each fitted clip at its planned start sample (gaps
between them), media referencing the clip's WAV. Our facts about each clip live under
``metadata["indextts_dub"]``. With a video, a picture track references it too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .fit import Clip
from .media import VideoInfo
from .timebase import SAMPLE_RATE

KEY = "indextts_dub"


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
        "speech": ln.speech,
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
    }


def build(clips: list[Clip], characters: list[str], media: dict[int, Path], programme: int, name: str,
          video: VideoInfo | None = None, extra: dict[str, Any] | None = None):
    """An ``otio.schema.Timeline``; ``media`` maps ``Line.index`` to the clip's final WAV path."""
    import opentimelineio as otio

    tl = otio.schema.Timeline(name=name, global_start_time=_rt(0))
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
        # a character's clips overlap only where the plan reports an overrun: those go on extra tracks
        layers: list[list[Clip]] = []
        for clip in sorted((c for c in clips if c.line.character == character), key=lambda c: c.start):
            for layer in layers:
                if layer[-1].end <= clip.start:
                    layer.append(clip)
                    break
            else:
                layers.append([clip])
        for k, layer in enumerate(layers):
            name = character if k == 0 else f"{character} (overlap {k})"
            tl.tracks.append(_track(otio, name, character, layer, media, programme))
    return tl


def _track(otio, name: str, character: str, layer: list[Clip], media: dict[int, Path], programme: int):
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    track.metadata[KEY] = {"character": character}
    pos = 0
    for clip in layer:
        if clip.start > pos:
            track.append(otio.schema.Gap(source_range=_range(0, clip.start - pos)))
        path = media[clip.line.index]
        ref = otio.schema.ExternalReference(target_url=path.resolve().as_uri(),
                                            available_range=_range(0, clip.length))
        oc = otio.schema.Clip(name=f"{clip.line.index:04d} {character}: {clip.line.text}"[:120],
                              media_reference=ref, source_range=_range(0, clip.length))
        oc.metadata[KEY] = clip_metadata(clip, path)
        track.append(oc)
        pos = clip.end
    if programme > pos:
        track.append(otio.schema.Gap(source_range=_range(0, programme - pos)))
    return track


def write(timeline, path: Path) -> Path:
    import opentimelineio as otio

    otio.adapters.write_to_file(timeline, str(path), adapter_name="otio_json")
    return path
