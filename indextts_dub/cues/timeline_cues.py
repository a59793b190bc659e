"""Cues for a dub against an editor timeline.

Either from the timeline itself (productions keep dialogue there):

- markers whose colour (``--marker-color GREEN``) and/or name prefix (``--marker-prefix DLG:``)
  mark them as dialogue; the text is the marker's comment, else its name without the prefix;
  the marked range is the cue's slot;
- clips on a named track (``--dialogue-track Dialogue``); the text is the clip's
  ``metadata["indextts_dub"]["text"]`` (or ``metadata["text"]``), else its name;
- with neither option, markers and clips our subtitle adapter made (they carry
  ``metadata["indextts_dub"]["cue"]``).

The character is ``metadata["indextts_dub"]["character"]`` when present, else the same
``Name:`` / ``[Name]`` prefix convention as in subtitle files.

Or from a subtitle file (or a cue timeline) aligned to the timeline: its clock (programme
time from the first frame, or the timeline's timecode), its rate and its length.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

from .. import timebase
from ..errors import DubError, Problems
from ..timebase import SAMPLE_RATE, ms_to_samples, seconds_to_samples, timecode
from . import dialogue
from .cue import Cue, Cues, clean_text, plain, split_speaker
from .otio_json import KEY, JsonPath, path_text
from .subtitles import read_cues
from .timeline_in import (TimelineIn, TimelineOptions, is_timeline, items, open_timeline, range_in_timeline,
                          walk_from)


def _meta(obj) -> dict:
    md = obj.metadata
    if KEY not in md:
        return {}
    v = md[KEY]
    try:
        return dict(v)
    except (TypeError, ValueError):
        return {}


def _text_of_marker(marker, prefix: str | None) -> tuple[str, str]:
    """(raw text, which field it came from)."""
    own = _meta(marker)
    cue = own.get("cue")
    if isinstance(cue, dict) or hasattr(cue, "get"):
        if cue.get("text"):
            return str(cue.get("text")), "metadata.indextts_dub.cue.text"
    comment = (getattr(marker, "comment", "") or "").strip()
    if not comment and "fcp_xml" in marker.metadata:
        fcp = marker.metadata["fcp_xml"]
        comment = str(fcp.get("comment") or "").strip() if hasattr(fcp, "get") else ""
    if comment:
        return comment, "comment"
    name = marker.name or ""
    if prefix and name.casefold().startswith(prefix.casefold()):
        name = name[len(prefix):]
    return name.strip(), "name"


def _text_of_clip(clip) -> tuple[str, str]:
    own = _meta(clip)
    cue = own.get("cue")
    if hasattr(cue, "get") and cue.get("text"):
        return str(cue.get("text")), "metadata.indextts_dub.cue.text"
    if own.get("text"):
        return str(own["text"]), "metadata.indextts_dub.text"
    for k in ("text", "dialogue", "subtitle"):
        if k in clip.metadata and isinstance(clip.metadata[k], str) and clip.metadata[k].strip():
            return clip.metadata[k], f"metadata.{k}"
    return (clip.name or "").strip(), "name"


def _speaker_of(obj) -> str | None:
    own = _meta(obj)
    cue = own.get("cue")
    for src in (own, cue if hasattr(cue, "get") else {}):
        for k in ("character", "speaker"):
            v = src.get(k) if hasattr(src, "get") else None
            if v and str(v).strip():
                return str(v).strip()
    return None


def _is_ours(obj) -> bool:
    return "cue" in _meta(obj)


def _range_in_timeline(tin: TimelineIn, owner, marked_range) -> tuple[int, int] | None:
    """A range in the owner's coordinates -> (start, end) samples from the programme start,
    or None where a nested stack or the owning clip trims it out of sight."""

    stack = tin.timeline.tracks
    r = range_in_timeline(tin.timeline, owner, marked_range)
    if r is None:
        return None
    offset = stack.source_range.start_time if stack.source_range is not None else None
    start = timebase.rt_to_samples(r.start_time) - (timebase.rt_to_samples(offset) if offset is not None else 0)
    dur = timebase.rt_to_samples(r.duration)
    return start, start + dur


def _marker_owners(tin: TimelineIn):
    """(owner, marker, JSON path of the marker) for markers on the stack, the tracks and
    every item in them, nested ones included."""

    for obj, path in items(tin.timeline):
        for k, m in enumerate(obj.markers):
            yield obj, m, path + ("markers", k)


def _color_matches(marker, color: str) -> bool:
    return str(marker.color or "").strip().casefold() == color.strip().casefold()


def _make_cue(tin: TimelineIn, n: int, path: JsonPath, start: int, end: int, raw: str, speaker: str | None,
              what: str, text_field: str, problems: Problems) -> Cue | None:
    line = tin.where(path) or 0
    where = path_text(path)
    ident = where
    if tin.json is None:                  # AAF, EDL, XML: no lines; say what it is and where it sits
        frame = tin.start_frame + start * tin.rate.numerator // (SAMPLE_RATE * tin.rate.denominator)
        label = raw.strip().splitlines()[0][:40] if raw.strip() else ""
        ident = f"{what} {label!r} at {timebase.smpte(frame, tin.rate, tin.drop_frame)} ({where})"
    if end <= start:
        problems.add(tin.path, line or None, f"{where}.marked_range" if what == "marker" else f"{where}.source_range",
                     f"dialogue {what} {raw[:40]!r} at {timecode(start)} has no duration; give it the length "
                     "of the line's slot")
        return None
    cleaned, tags = clean_text(raw)
    speaker = plain(speaker).strip() or None if speaker else None
    speaker_from = "metadata" if speaker else None
    if not cleaned.strip():
        problems.add(tin.path, line or None, f"{where}.{text_field}",
                     f"dialogue {what} at {timecode(start)} has no text (its name and comment are empty)"
                     if what == "marker" else f"dialogue clip at {timecode(start)} has no text")
        return None
    prefix = None
    if speaker is None and text_field == "metadata.indextts_dub.cue.text":
        cand = dialogue.candidate(cleaned)         # our cue: the subtitle reader decided; a prefix is offered again
        prefix = cand[0] if cand else None
    elif speaker is None:
        who, how, rest = split_speaker(cleaned)
        if who:
            speaker, speaker_from, cleaned = who, how, rest
    return Cue(index=n, id=ident, start=start, end=end, text=cleaned, speaker=speaker,
               speaker_from=speaker_from, tags=tags, file=str(tin.path), line=line, prefix=prefix)


def cues_from_timeline(tin: TimelineIn, opts: TimelineOptions) -> Cues:
    """The dialogue a timeline carries, as cues (programme time, samples at 48 kHz), with
    warnings (point markers, whose slots run to the next line: :func:`_point_slots`)."""
    import opentimelineio as otio

    problems = Problems()
    cues: list[Cue] = []
    points: set[int] = set()              # indices of point markers: their slots are found below
    frame = -(-SAMPLE_RATE * tin.rate.denominator // tin.rate.numerator)
    by_markers = opts.marker_color is not None or opts.marker_prefix is not None
    auto = not by_markers and opts.dialogue_track is None

    if by_markers or auto:
        for owner, m, path in _marker_owners(tin):
            if auto and not _is_ours(m):
                continue
            if opts.marker_color is not None and not _color_matches(m, opts.marker_color):
                continue
            if opts.marker_prefix is not None and not (m.name or "").casefold().startswith(opts.marker_prefix.casefold()):
                continue
            placed = _range_in_timeline(tin, owner, m.marked_range)
            if placed is None:          # on a part of a clip or nested stack the cut does not show
                continue
            start, end = placed
            raw, fld = _text_of_marker(m, opts.marker_prefix)
            point = end - start <= frame          # a point marker (no duration, or one frame as editors make)
            c = _make_cue(tin, len(cues) + 1, path, start, start + 1 if point else end, raw, _speaker_of(m),
                          "marker", fld, problems)
            if c:
                cues.append(c)
                if point:
                    points.add(c.index)

    if opts.dialogue_track is not None or auto:
        tracks = [(t, ("tracks", "children", i)) for i, t in enumerate(tin.timeline.tracks)
                  if isinstance(t, otio.schema.Track)]
        if opts.dialogue_track is not None:
            chosen = [(t, p) for t, p in tracks if (t.name or "").casefold() == opts.dialogue_track.casefold()]
            if not chosen:
                names = ", ".join(repr(t.name) for t, _ in tracks) or "none"
                raise DubError.at(tin.path, None, "--dialogue-track",
                                  f"no track named {opts.dialogue_track!r} (tracks: {names})")
        else:
            chosen = tracks
        for track, tpath in chosen:
            for item, ipath in walk_from(track, tpath):     # nested stacks and tracks too
                if not isinstance(item, otio.schema.Clip):
                    continue
                if auto and not _is_ours(item):
                    continue
                placed = _range_in_timeline(tin, item, item.trimmed_range())
                if placed is None:
                    continue
                start, end = placed
                raw, fld = _text_of_clip(item)
                c = _make_cue(tin, len(cues) + 1, ipath, start, end, raw, _speaker_of(item),
                              "clip", fld, problems)
                if c:
                    cues.append(c)
    problems.raise_if_any()
    if not cues:
        raise DubError.at(tin.path, None, None, _nothing_found(tin, opts))
    for c in cues:
        if c.start >= tin.length or c.start < 0:
            problems.add(c.file, c.line or None, c.id, f"starts at {timecode(c.start)}, outside the timeline "
                                                      f"(0 to {timecode(tin.length)})")
    problems.raise_if_any()
    cues.sort(key=lambda c: (c.start, c.index))
    warnings = []
    if points:
        cues = _point_slots(cues, points, tin.length)
        warnings.append(f"{tin.path}: {len(points)} dialogue marker(s) have no duration (point markers): each "
                        f"line's slot runs to the next line's start, at most {POINT_SLOT_SECONDS:g} s and not past "
                        "the timeline's end; give the markers a duration to set their slots")
    return Cues(cues, warnings=warnings)


POINT_SLOT_SECONDS = 8


def _point_slots(cues: list[Cue], points: set[int], length: int) -> list[Cue]:
    """Point markers' slots: from the marker to the next cue that starts after it, at most
    :data:`POINT_SLOT_SECONDS` and not past the programme."""
    starts = sorted({c.start for c in cues})
    out = []
    for c in cues:
        if c.index in points:
            later = next((s for s in starts if s > c.start), None)
            end = min(c.start + seconds_to_samples(POINT_SLOT_SECONDS), length, later if later is not None else length)
            c = dataclasses.replace(c, end=max(end, c.start + 1))
        out.append(c)
    return out


def _nothing_found(tin: TimelineIn, opts: TimelineOptions) -> str:
    colors: dict[str, int] = {}
    n = 0
    for _o, m, _p in _marker_owners(tin):
        n += 1
        colors[str(m.color)] = colors.get(str(m.color), 0) + 1
    have = (f"it has {n} marker(s) ({', '.join(f'{k} x{v}' for k, v in sorted(colors.items()))})" if n
            else "it has no markers")
    if opts.marker_color or opts.marker_prefix:
        sel = " and ".join(s for s in (opts.marker_color and f"colour {opts.marker_color}",
                                       opts.marker_prefix and f"name prefix {opts.marker_prefix!r}") if s)
        return f"no dialogue marker with {sel}; {have}"
    if opts.dialogue_track:
        return f"the track {opts.dialogue_track!r} has no clips"
    return ("no dialogue found in the timeline; give --subtitles FILE, or say which markers "
            f"(--marker-color / --marker-prefix) or which track (--dialogue-track) carry it; {have}")


# ---------------------------------------------------------------- subtitles against a timeline

CANDIDATE_RATES = tuple(timebase.rate_fraction(r) for r in (23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60))


def grid_rates(cues: list[Cue]) -> list[Fraction] | None:
    """The frame rates whose frame boundaries every cue time falls on (within the 1 ms a
    subtitle file rounds to), or None when the times say nothing about a rate (too few, or
    all on a coarse grid of round numbers)."""
    values = sorted({c.start for c in cues} | {c.end for c in cues})
    telling = [v for v in values if v % ms_to_samples(100)]
    if len(telling) < 8:
        return None
    out = []
    for r in CANDIDATE_RATES:
        ok = True
        for v in values:
            f = round(Fraction(v) * r / SAMPLE_RATE)
            if abs(Fraction(f) * SAMPLE_RATE / r - v) > ms_to_samples(1):
                ok = False
                break
        if ok:
            out.append(r)
    return out


def align_subtitle_cues(cues: list[Cue], tin: TimelineIn, opts: TimelineOptions, source: str,
                        cue_rate: Fraction | None = None, cue_rate_from: str | None = None) -> list[Cue]:
    """Subtitle cues placed on the timeline: the clock decided, the rate checked, the length checked.

    ``subtitle_clock``: ``programme`` (0 is the timeline's first frame), ``timecode`` (times
    are the timeline's timecode read as a clock, so 01:00:05,000 on a timeline starting at
    01:00:00:00 is 5 s in), or ``auto`` (timecode when the timeline starts later than 0 and
    every cue starts at or after that time, programme when none does).
    """
    problems = Problems()
    # rate: stated (cue timeline, --subtitle-fps) or read off the times
    stated = opts.subtitle_fps or cue_rate
    if stated is not None and stated != tin.rate:
        where = "--subtitle-fps" if opts.subtitle_fps else (cue_rate_from or "rate")
        raise DubError.at(source, None, where, f"the subtitles are timed at {timebase.rate_label(stated)} fps but the "
                                               f"timeline runs at {timebase.rate_label(tin.rate)} fps ({tin.path.name}); "
                                               "re-time them to the timeline's rate first")
    if stated is None:
        fits = grid_rates(cues)
        if fits is not None and fits and tin.rate not in fits:
            first = cues[0]
            raise DubError.at(source, first.line or None, "times",
                              f"every cue starts and ends on a {timebase.rate_label(fits[0])} fps frame boundary but "
                              f"the timeline runs at {timebase.rate_label(tin.rate)} fps: the subtitles were timed for "
                              "another frame rate; re-time them, or pass --subtitle-fps "
                              f"{timebase.rate_label(tin.rate)} to use their times as they are")

    start_label = timebase.timecode_label_seconds(tin.start_timecode, tin.rate) if tin.start_frame else Fraction(0)
    offset = seconds_to_samples(start_label)
    clock = opts.subtitle_clock
    if clock not in ("auto", "programme", "timecode"):
        raise DubError.at(None, None, "--subtitle-clock", f"must be auto, programme or timecode (got {clock!r})")
    if clock == "auto":
        if offset == 0:
            clock = "programme"
        else:
            after = [c for c in cues if c.start >= offset]
            if len(after) == len(cues):
                clock = "timecode"
            elif not after:
                clock = "programme"
            else:
                before = next(c for c in cues if c.start < offset)
                raise DubError.at(before.file, before.line or None, "start",
                                  f"starts at {timecode(before.start)}, before the timeline's start timecode "
                                  f"{tin.start_timecode}, while other cues start after it: say how the times "
                                  "count with --subtitle-clock programme or --subtitle-clock timecode")
    shift = offset if clock == "timecode" else 0
    out = []
    for c in cues:
        nc = dataclasses.replace(c, start=c.start - shift, end=c.end - shift) if shift else c
        if nc.start < 0:
            problems.add(c.file, c.line or None, "start", f"starts at {timecode(c.start)}, before the timeline's "
                                                          f"start timecode {tin.start_timecode}")
        elif nc.start >= tin.length:
            problems.add(c.file, c.line or None, "start",
                         f"starts at {timecode(nc.start)}" + (f" ({timecode(c.start)} on the subtitle clock)" if shift else "")
                         + f", after the timeline ends ({timecode(tin.length)}, {tin.path.name})")
        out.append(nc)
    problems.raise_if_any()
    return out


def read_cues_for_timeline(subtitles, tin: TimelineIn, opts: TimelineOptions, encoding: str | None = None,
                           speak: str | None = None) -> list[Cue]:
    """Cues from ``--subtitles``: a subtitle file, or a cue timeline (e.g. our subtitle adapter's output)."""
    if is_timeline(subtitles):
        sub = open_timeline(subtitles, dataclasses.replace(opts, fps=None, allow_offline_media=True), check_media=False)
        cues = cues_from_timeline(sub, dataclasses.replace(opts, dialogue_track=None) if opts.dialogue_track and
                                  not _has_track(sub, opts.dialogue_track) else opts)
        own = sub.timeline.metadata.get(KEY, {}) if KEY in sub.timeline.metadata else {}
        exact = bool(own.get("exact_times")) if hasattr(own, "get") else False
        rate = None if exact or sub.rate in (Fraction(1000), Fraction(SAMPLE_RATE)) else sub.rate
        return align_subtitle_cues(cues, tin, opts, str(Path(subtitles)), rate, f"{sub.rate_from}")
    read = read_cues(subtitles, encoding, speak)
    return Cues(align_subtitle_cues(read, tin, opts, str(subtitles)), read.skipped, read.warnings, read.speak)


def _has_track(tin: TimelineIn, name: str) -> bool:
    return any((t.name or "").casefold() == name.casefold() for t in tin.timeline.tracks)


def load_cues(subtitles, timeline, encoding: str | None, opts: TimelineOptions | None, speak: str | None = None):
    """The run's cues and input timeline: ``(cues, TimelineIn or None, name)``; ``speak`` picks
    the language of bilingual subtitles (:func:`.subtitles.read_cues`).

    ``subtitles`` alone: a subtitle file (no timeline), or a timeline whose own markers/clips
    carry the dialogue. ``timeline`` and ``subtitles``: the subtitles dubbed against the timeline.
    """
    opts = opts or TimelineOptions()
    if timeline is None and subtitles is not None and is_timeline(subtitles):
        timeline, subtitles = subtitles, None
    if timeline is None:
        if subtitles is None:
            raise DubError.at(None, None, "subtitles", "give a subtitle file or a timeline")
        return read_cues(subtitles, encoding, speak), None, Path(subtitles).stem
    if not is_timeline(timeline):
        raise DubError.at(timeline, None, None, "not a timeline format an installed OpenTimelineIO adapter reads")
    tin = open_timeline(timeline, opts)
    name = tin.timeline.name or Path(timeline).stem
    if subtitles is None:
        # the timeline's own dialogue is decided like a subtitle file's: sound descriptions,
        # lyrics and credits skipped, dash dialogue split, a bilingual layout spoken in one language
        cues = cues_from_timeline(tin, opts)
        spoken, skipped, notes, chosen = dialogue.decide(cues, speak, str(timeline), captions=False)
        spoken.sort(key=lambda c: (c.start, c.index))
        return Cues(spoken, skipped, cues.warnings + notes, chosen), tin, name
    return read_cues_for_timeline(subtitles, tin, opts, encoding, speak), tin, name
