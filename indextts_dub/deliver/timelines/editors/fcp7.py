"""``editor/timeline.xml``: FCP 7 XML (xmeml 4) for Premiere Pro and DaVinci Resolve.

Written by ``otio-fcp-adapter`` from the frame-rate copy, then completed where editors need
more than the adapter writes:

- the sequence's video ``<format>`` gets its ``<samplecharacteristics>`` (rate, frame size,
  pixel aspect, field dominance): Resolve ignores an FCP XML whose sequence has no format
  (OpenTimelineIO issue #839) and the adapter writes an empty one;
- the sequence's audio gets a ``<format>`` (48 kHz) and our WAVs their audio
  ``<samplecharacteristics>`` and ``<sourcetrack>``, as Premiere writes them;
- the sequence timecode is written drop-frame (``01:00:00;00``, ``DF``) at 29.97 and 59.94
  unless the input said otherwise (the adapter writes every timecode as NDF).

FCP 7 XML has no track names and no track markers: the dub tracks come in as plain audio
tracks in character order, and warnings stay in the ``.otio`` copies.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import xml.etree.ElementTree as ET
from pathlib import Path

from ....fsio import write_text
from .base import CannotWrite

EDITORS = "Premiere Pro, DaVinci Resolve (File > Import > Timeline), Final Cut Pro 7"


def _sub(parent, tag, text=None, index=None):
    e = ET.Element(tag)
    if text is not None:
        e.text = str(text)
    if index is None:
        parent.append(e)
    else:
        parent.insert(index, e)
    return e


def _rate_el(parent, rate):
    r = _sub(parent, "rate")
    _sub(r, "timebase", math.ceil(rate))
    _sub(r, "ntsc", "TRUE" if rate.denominator != 1 else "FALSE")
    return r


def _replace_nested(obj, notes, what):
    """Nested stacks/tracks inside tracks become gaps of the same length (positions kept)."""
    import opentimelineio as otio

    for track in obj.tracks:
        if not isinstance(track, otio.schema.Track):
            continue
        for i, item in enumerate(list(track)):
            if isinstance(item, otio.core.Composition):
                gap = otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, item.duration().rate), item.duration()))
                track[i] = gap
                notes.append(f"{what}: nested {type(item).__name__.lower()} {item.name!r} in track "
                             f"{track.name!r} written as a gap of the same length (the adapter cannot write it)")


def to_string(ctx) -> str:
    import opentimelineio as otio

    notes: list[str] = []
    obj = ctx.obj
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            text = otio.adapters.write_to_string(obj, adapter_name="fcp_xml")
    except Exception:
        obj = copy.deepcopy(ctx.obj)
        _replace_nested(obj, notes, "editor/timeline.xml")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                text = otio.adapters.write_to_string(obj, adapter_name="fcp_xml")
        except Exception as exc:
            raise CannotWrite(f"the FCP 7 XML adapter cannot write this timeline ({type(exc).__name__}: {exc})") from None
    ctx.notes.extend(notes)
    return complete(text, ctx)


def complete(text: str, ctx) -> str:
    """Add what editors need to the adapter's XML (see the module docstring)."""
    from .... import timebase

    root = ET.fromstring(text)
    ours = {str(Path(p)) for p in ctx.staged}
    for seq in root.iter("sequence"):
        media = seq.find("media")
        if media is None:
            continue
        video = media.find("video")
        if video is not None:
            fmt = video.find("format")
            if fmt is None:
                fmt = _sub(video, "format", index=0)
            if fmt.find("samplecharacteristics") is None:
                sc = _sub(fmt, "samplecharacteristics")
                _rate_el(sc, ctx.rate)
                _sub(sc, "width", ctx.width or 1920)
                _sub(sc, "height", ctx.height or 1080)
                _sub(sc, "anamorphic", "FALSE")
                _sub(sc, "pixelaspectratio", "square")
                _sub(sc, "fielddominance", "none")
        audio = media.find("audio")
        if audio is not None and audio.find("format") is None:
            fmt = _sub(audio, "format", index=0)
            sc = _sub(fmt, "samplecharacteristics")
            _sub(sc, "depth", 24)
            _sub(sc, "samplerate", 48000)
        tc = seq.find("timecode")
        if tc is not None and seq is root.find("./project/children/sequence"):
            s = tc.find("string")
            if s is not None:
                s.text = timebase.smpte(ctx.start_frame, ctx.rate, ctx.drop_frame)
            df = tc.find("displayformat")
            if df is None:
                df = _sub(tc, "displayformat")
            df.text = "DF" if ctx.drop_frame else "NDF"
            fr = tc.find("frame")
            if fr is not None:
                fr.text = str(ctx.start_frame)
        if audio is not None:
            for track in audio.findall("track"):
                for ci in track.findall("clipitem"):
                    f = ci.find("file")
                    url = f.findtext("pathurl") if f is not None else None
                    if not url:
                        continue
                    from opentimelineio import url_utils

                    local = str(Path(url_utils.filepath_from_url(url)).resolve())
                    if local not in ours:
                        continue
                    fm = f.find("media")
                    au = fm.find("audio") if fm is not None else None
                    if au is not None and au.find("samplecharacteristics") is None:
                        sc = _sub(au, "samplecharacteristics")
                        _sub(sc, "depth", 24)
                        _sub(sc, "samplerate", 48000)
                        _sub(au, "channelcount", 1)
                    if ci.find("sourcetrack") is None:
                        st = _sub(ci, "sourcetrack")
                        _sub(st, "mediatype", "audio")
                        _sub(st, "trackindex", 1)
    ET.indent(root, space="    ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(ctx, path: Path) -> None:
    write_text(path, to_string(ctx))
