"""OpenTimelineIO adapter: subtitle files -> a timeline of dialogue.

``otioconvert -i episode.srt -o cues.otio`` (adapter arguments with ``-a name=value``):

- ``mode``: ``clips`` (default; a track "Dialogue" with one clip per cue, overlapping cues on
  "Dialogue 2", ...) or ``markers`` (markers on the timeline, a gap track giving its length);
- ``rate``: the time base. Default ``1000``: milliseconds, exactly what SRT/VTT carry (ASS
  centiseconds too), so nothing is rounded. A frame rate (``25``, ``24000/1001``) rounds each
  time to the nearest frame; indextts-dub then checks it against the timeline it dubs;
- ``color``: the markers' colour (default GREEN);
- ``encoding``: the text encoding (default: detected).

Each cue keeps its text, speaker, id and source line under ``metadata["indextts_dub"]["cue"]``,
which is how indextts-dub finds dialogue in such a timeline without further options. Speakers
are read as indextts-dub reads them (ASS Name, WebVTT ``<v>``, ``Name:`` prefixes).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from indextts_dub.cues.otio_json import KEY


def _rate(value) -> Fraction:
    from indextts_dub.timebase import parse_rate

    return parse_rate(str(value), "rate")


def read_from_file(filepath, mode="clips", rate=None, color="GREEN", encoding=None):
    import opentimelineio as otio

    from indextts_dub.cues import read_cues
    from indextts_dub.timebase import rate_float, rate_text
    from indextts_dub.timebase import SAMPLE_RATE

    cues = read_cues(filepath, encoding)
    r = _rate(rate) if rate not in (None, "") else Fraction(1000)
    exact = r == 1000
    rf = rate_float(r)

    def t(samples: int):
        v = Fraction(samples) * r / SAMPLE_RATE
        return otio.opentime.RationalTime(int(v) if exact else round(v), rf)

    def rng(a: int, b: int):
        start = t(a)
        return otio.opentime.TimeRange(start, t(b) - start)

    name = Path(filepath).stem
    tl = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(0, rf))
    tl.metadata[KEY] = {"cues_from": str(filepath), "exact_times": exact, "frame_rate": rate_text(r),
                        "cue_count": len(cues)}
    end = max(c.end for c in cues)

    def cue_meta(c):
        return {"cue": {"text": c.text, "speaker": c.speaker, "id": c.id, "file": c.file, "line": c.line,
                        "start_sample": c.start, "end_sample": c.end}}

    def label(c):
        return f"{c.speaker}: {c.text}" if c.speaker else c.text

    if str(mode) == "markers":
        holder = otio.schema.Track(name="Dialogue", kind=otio.schema.TrackKind.Video)
        holder.append(otio.schema.Gap(source_range=rng(0, end)))
        tl.tracks.append(holder)
        for c in cues:
            m = otio.schema.Marker(name=label(c), marked_range=rng(c.start, c.end), color=str(color).upper())
            m.comment = c.text
            m.metadata[KEY] = cue_meta(c)
            tl.tracks.markers.append(m)
        return tl
    if str(mode) != "clips":
        raise ValueError(f"mode must be 'clips' or 'markers', not {mode!r}")
    lanes: list[tuple[object, object]] = []          # (track, its end time)
    for c in cues:
        rr = rng(c.start, c.end)
        for k, (track, pos) in enumerate(lanes):
            if rr.start_time >= pos:
                break
        else:
            track = otio.schema.Track(name="Dialogue" if not lanes else f"Dialogue {len(lanes) + 1}",
                                      kind=otio.schema.TrackKind.Video)
            tl.tracks.append(track)
            lanes.append((track, otio.opentime.RationalTime(0, rf)))
            k, pos = len(lanes) - 1, lanes[-1][1]
        if rr.start_time > pos:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rf), rr.start_time - pos)))
        clip = otio.schema.Clip(name=label(c)[:200], source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rf), rr.duration))
        clip.metadata[KEY] = cue_meta(c)
        track.append(clip)
        lanes[k] = (track, rr.end_time_exclusive())
    return tl
