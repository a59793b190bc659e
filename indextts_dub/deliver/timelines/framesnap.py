"""Editor copies of dub tracks: every time at the timeline's frame rate, every clip starting
on a frame, and the sound still starting on its sample.

A dub clip that starts between two frames is moved back to the frame before it, and the
sub-frame remainder becomes leading silence inside the clip's own copy of the media (so
``lead_samples`` of silence, then the line). The media is padded after the line to a whole
number of frames. Where two clips of one character would share a frame (the first ends in
the frame the second starts in), the first is cut at that frame boundary and whatever sound
it still had there is carried at the head of the second clip's media: nothing is lost and
nothing moves.

The master timeline (48 kHz) is the input: each dub clip's start sample comes from its track,
its sound from the WAV it references.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ... import timebase
from ...cues.otio_json import KEY
from ...timebase import SAMPLE_RATE



def is_dub_track(track) -> bool:
    import opentimelineio as otio

    if not isinstance(track, otio.schema.Track) or KEY not in track.metadata:
        return False
    md = track.metadata[KEY]
    return hasattr(md, "get") and md.get("character") is not None


@dataclass
class Segment:
    """One clip of an editor copy: frames [frame, frame + frames), its media samples."""

    frame: int
    frames: int
    first_sample: int                  # absolute sample where the media starts (frame boundary)
    audio: np.ndarray
    start: int                         # where the line's sound starts (absolute sample)
    source: Any                        # the master clip
    carries_tail_of: list[int] = field(default_factory=list)
    absorbed: list[int] = field(default_factory=list)

    @property
    def lead(self) -> int:
        return self.start - self.first_sample


def _read_wav(path: Path, start: int, n: int) -> np.ndarray:
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        if f.samplerate != SAMPLE_RATE:
            raise ValueError(f"{path}: {f.samplerate} Hz, expected {SAMPLE_RATE}")
        f.seek(start)
        x = f.read(n, dtype="float32", always_2d=True)
    x = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1)
    if x.size < n:
        x = np.concatenate([x, np.zeros(n - x.size, np.float32)])
    return x


def _line_index(clip) -> int | None:
    md = clip.metadata.get(KEY) if KEY in clip.metadata else None
    return int(md["index"]) if md is not None and "index" in md else None


def segments(track, rate: Fraction, wav_path: Callable[[str], Path]) -> list[Segment]:
    """The frame-aligned segments of one master dub track (see the module docstring)."""
    import opentimelineio as otio

    segs: list[Segment] = []
    for i, item in enumerate(track):
        if not isinstance(item, otio.schema.Clip):
            continue
        r = track.range_of_child_at_index(i)
        s = timebase.rt_to_samples(r.start_time)
        n = timebase.rt_to_samples(r.duration)
        src_start = timebase.rt_to_samples(item.source_range.start_time) if item.source_range else 0
        x = _read_wav(wav_path(item.media_reference.target_url), src_start, n)
        e = s + n
        f0 = timebase.frame_at(s, rate)
        f1 = max(timebase.frames_covering(e, rate), f0 + 1)
        b0 = timebase.frame_to_sample(f0, rate)
        b1 = timebase.frame_to_sample(f1, rate)
        media = np.zeros(b1 - b0, np.float32)
        media[s - b0: s - b0 + n] = x
        seg = Segment(f0, f1 - f0, b0, media, s, item)
        while segs and segs[-1].frame + segs[-1].frames > f0:
            prev = segs.pop()
            cut = b0 - prev.first_sample                 # prev's samples before this segment's first frame
            if cut > 0:
                tail = prev.audio[cut:]
                head = prev.audio[:cut]
                if np.any(tail):
                    seg.audio[: tail.size] += tail[: seg.audio.size]
                    idx = _line_index(prev.source)
                    if idx is not None:
                        seg.carries_tail_of.append(idx)
                prev = Segment(prev.frame, f0 - prev.frame, prev.first_sample, head, prev.start, prev.source,
                               prev.carries_tail_of, prev.absorbed)
                segs.append(prev)
                break
            # prev lies wholly in this segment's first frame: its media moves into this one
            off = prev.first_sample - b0
            seg.audio[off: off + prev.audio.size] += prev.audio[: seg.audio.size - off]
            idx = _line_index(prev.source)
            seg.absorbed.extend(prev.absorbed + ([idx] if idx is not None else []))
        segs.append(seg)
    return segs


def _rt(frames: int, rate: Fraction):
    import opentimelineio as otio

    return otio.opentime.RationalTime(frames, timebase.rate_float(rate))


def _tr(start: int, dur: int, rate: Fraction):
    import opentimelineio as otio

    return otio.opentime.TimeRange(_rt(start, rate), _rt(dur, rate))


def snap_track(track, rate: Fraction, programme: int, wav_path: Callable[[str], Path], media_dir: Path,
               media_url: Callable[[Path], str], write_media: bool = True):
    """A frame-rate copy of one master dub track, its media written into ``media_dir``."""
    import opentimelineio as otio

    from ... import audio

    out = otio.schema.Track(name=track.name, kind=track.kind)
    out.metadata[KEY] = dict(track.metadata[KEY]) | {"frame_rate": timebase.rate_text(rate)}
    pos = 0
    for seg in segments(track, rate, wav_path):
        if seg.frame > pos:
            out.append(otio.schema.Gap(source_range=_tr(0, seg.frame - pos, rate)))
        src = seg.source
        name = Path(_source_file(src)).name
        media_path = media_dir / name
        if write_media:
            audio.write_wav(media_path, seg.audio, SAMPLE_RATE)
        ref = otio.schema.ExternalReference(target_url=media_url(media_path),
                                            available_range=_tr(0, seg.frames, rate))
        clip = otio.schema.Clip(name=src.name, media_reference=ref, source_range=_tr(0, seg.frames, rate))
        md = dict(src.metadata[KEY]) if KEY in src.metadata else {}
        md["editor_copy"] = {"frame_rate": timebase.rate_text(rate), "frame": seg.frame, "frames": seg.frames,
                             "lead_samples": seg.lead, "media_samples": int(seg.audio.size),
                             "carries_tail_of": seg.carries_tail_of, "absorbed": seg.absorbed}
        clip.metadata[KEY] = md
        out.append(clip)
        pos = seg.frame + seg.frames
    end = timebase.frames_covering(programme, rate)
    if end > pos:
        out.append(otio.schema.Gap(source_range=_tr(0, end - pos, rate)))
    for m in track.markers:
        s = timebase.rt_to_samples(m.marked_range.start_time)
        e = s + timebase.rt_to_samples(m.marked_range.duration)
        f0 = timebase.frame_at(s, rate)
        nm = otio.schema.Marker(name=m.name, marked_range=_tr(f0, timebase.frames_covering(e, rate) - f0, rate),
                                color=m.color, metadata=copy.deepcopy(dict(m.metadata)))
        nm.comment = m.comment
        out.markers.append(nm)
    return out


def _source_file(clip) -> str:
    from opentimelineio import url_utils

    return url_utils.filepath_from_url(clip.media_reference.target_url)


def snap_timeline_tracks(timeline, rate: Fraction, programme: int, wav_path: Callable[[str], Path],
                         media_dir: Path, media_url: Callable[[Path], str] | None = None,
                         write_media: bool = True) -> list:
    """Frame-rate copies of every dub track of a master timeline (in track order)."""
    media_url = media_url or (lambda p: p.resolve().as_uri())
    media_dir.mkdir(parents=True, exist_ok=True) if write_media else None
    return [snap_track(t, rate, programme, wav_path, media_dir, media_url, write_media)
            for t in timeline.tracks if is_dub_track(t)]


def needs_snapping(track) -> bool:
    """A dub track still at 48 kHz (a master track)."""
    import opentimelineio as otio

    for item in track:
        if isinstance(item, (otio.schema.Clip, otio.schema.Gap)) and item.source_range is not None:
            return timebase.rate_fraction(item.source_range.duration.rate) == SAMPLE_RATE
    return False
