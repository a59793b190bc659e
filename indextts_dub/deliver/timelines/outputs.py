"""Timelines out: the master timeline and the editor copies.

The master (``timeline.otio``) is the input timeline exactly as it was written (every track,
clip, marker, effect and metadata, schema versions included) with one audio track per
character appended (times in samples at 48 kHz, clips referencing the fitted WAVs, our
facts under ``metadata["indextts_dub"]``, warnings as markers on the dub tracks). Without an
input timeline it is the timeline :mod:`.master` builds (picture track + dub tracks).

Editor copies (``editor/``) hold the same timeline with the dub tracks at the timeline's
frame rate (:mod:`.framesnap`), in the formats of :mod:`.editors`.

Dub tracks of an earlier run (tracks carrying ``metadata["indextts_dub"]["character"]``) in
the input are replaced, so dubbing a dubbed timeline again does not stack tracks.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ... import fsio, timebase
from . import master as timeline_mod
from .framesnap import is_dub_track
from ...cues.otio_json import KEY, dump
from ...cues.timeline_in import TimelineIn
from ...fsio import Staging
from ...timebase import SAMPLE_RATE

def _otio_json(obj) -> Any:
    import opentimelineio as otio

    return json.loads(otio.adapters.write_to_string(obj, adapter_name="otio_json"))


def _is_dub_track_json(t: Any) -> bool:
    md = t.get("metadata") if isinstance(t, dict) else None
    own = md.get(KEY) if isinstance(md, dict) else None
    return isinstance(own, dict) and own.get("character") is not None and str(t.get("OTIO_SCHEMA", "")).startswith("Track.")


def base_document(source: TimelineIn) -> Any:
    """The input as an OTIO JSON document: as written (OTIO JSON inputs) or as its adapter read it."""
    if source.json is not None:
        return copy.deepcopy(source.json.doc)
    return _otio_json(source.timeline)


def splice(doc: Any, tracks: list, meta: dict) -> tuple[Any, int]:
    """``doc`` with earlier dub tracks removed, ``tracks`` appended and ``meta`` under our key.
    Returns (document, number of earlier dub tracks removed)."""
    doc = copy.deepcopy(doc)
    if not isinstance(doc.get("metadata"), dict):
        doc["metadata"] = {}
    doc["metadata"][KEY] = meta
    children = doc["tracks"]["children"]
    kept = [t for t in children if not _is_dub_track_json(t)]
    removed = len(children) - len(kept)
    doc["tracks"]["children"] = kept + [_otio_json(t) for t in tracks]
    return doc, removed


@dataclass
class EditorCopy:
    """What an editor-format writer gets."""

    name: str                          # timeline name
    doc: Any                           # OTIO JSON document: original parts + frame-rate dub tracks
    obj: Any                           # the same as an OTIO object (schemas this OTIO reads)
    rate: Fraction
    start_frame: int
    drop_frame: bool
    programme: int
    staged: dict[str, Path]            # final media path (str) -> where it is now (staging)
    width: int | None = None
    height: int | None = None
    source_path: Path | None = None    # the input timeline (relative media resolve against it)
    notes: list[str] = field(default_factory=list)

    def local_file(self, final: str | Path) -> Path:
        """Where a file the outputs reference is now (staging for our own media)."""
        return self.staged.get(str(Path(final).resolve()), Path(final))


@dataclass
class TimelineOutputs:
    files: dict[str, Path]
    notes: list[str]


def write_all(staging: Staging, clips, characters: list[str], media: dict[int, Path], programme: int, name: str,
              video_info, extra: dict, source: TimelineIn | None, fps: Fraction | None = None,
              editor_copies: tuple[str, ...] | None = None) -> TimelineOutputs:
    """Write the master timeline and the editor copies into staging; see the module docstring."""
    import opentimelineio as otio

    from . import editors, framesnap

    notes: list[str] = []
    files: dict[str, Path] = {}
    dub_tracks = [t for ch in characters for t in timeline_mod.dub_tracks(ch, clips, media, programme)]
    meta = {"sample_rate": SAMPLE_RATE, "programme_samples": programme, **extra}

    # ---- the master
    if source is not None:
        meta["source_timeline"] = source.describe()
        if source.offline_media:
            meta["offline_media"] = [str(p) for p in source.offline_media]
        doc, removed = splice(base_document(source), dub_tracks, meta)
        if removed:
            notes.append(f"replaced {removed} dub track(s) of an earlier run in {source.path.name}")
        base_obj = copy.deepcopy(source.timeline)
    else:
        built = timeline_mod.build(clips, characters, media, programme, name, video_info, extra)
        doc = _otio_json(built)
        base_obj = timeline_mod.build([], [], {}, programme, name, video_info, extra)
    master = staging.path("timeline.otio")
    fsio.write_text(master, dump(doc))
    files["timeline"] = staging.final("timeline.otio")

    # ---- editor copies
    if source is not None:
        rate, start_frame, drop = source.rate, source.start_frame, source.drop_frame
    elif video_info is not None:
        rate, start_frame = timebase.rate_fraction(video_info.fps) if not isinstance(video_info.fps, Fraction) else video_info.fps, 0
        drop = timebase.is_drop_frame_rate(rate)
    elif fps is not None:
        rate, start_frame, drop = fps, 0, timebase.is_drop_frame_rate(fps)
    else:
        notes.append("editor copies not written: no frame rate is known (give --fps, --video or a timeline)")
        return TimelineOutputs(files, notes)
    wanted = editors.resolve(editor_copies)
    if not wanted:
        return TimelineOutputs(files, notes)

    staged: dict[str, Path] = {}      # final path (resolved) -> where the file is now
    for c in clips:
        final = media[c.line.index]
        staged[str(final.resolve())] = staging.path(str(final.relative_to(staging.out)))

    def wav_path(url: str) -> Path:
        from opentimelineio import url_utils

        p = url_utils.filepath_from_url(url)
        return staged.get(str(Path(p)), Path(p))

    media_final = staging.final("editor/media").resolve()
    media_staged = staging.path("editor/media/.keep").parent

    def media_url(p: Path) -> str:
        staged[str(media_final / p.name)] = p
        return (media_final / p.name).as_uri()

    snapped = framesnap.snap_timeline_tracks(_as_timeline(dub_tracks), rate, programme, wav_path, media_staged,
                                             media_url=media_url)
    files["editor_media"] = staging.final("editor/media")
    edoc, _ = splice(doc, snapped, meta | {"frame_rate": timebase.rate_text(rate), "drop_frame": drop,
                                           "editor_copy": True})
    eobj = base_obj
    eobj_tracks = [t for t in eobj.tracks if not is_dub_track(t)]
    eobj.tracks[:] = eobj_tracks + snapped
    if eobj.global_start_time is None or source is None:     # adapters need the timeline's start at its rate
        eobj.global_start_time = otio.opentime.RationalTime(start_frame, timebase.rate_float(rate))
    width = getattr(video_info, "width", None)
    height = getattr(video_info, "height", None)
    ctx = EditorCopy(name, edoc, eobj, rate, start_frame, drop, programme, staged, width, height,
                     source.path if source is not None else None)
    for fmt in wanted:
        spec = editors.FORMATS[fmt]
        target = staging.path(f"editor/{spec.filename}")
        try:
            spec.write(ctx, target)
        except editors.CannotWrite as exc:
            notes.append(f"editor/{spec.filename} not written: {exc}")
            if target.exists():
                target.unlink()
            continue
        files[f"editor_{fmt}"] = staging.final(f"editor/{spec.filename}")
    notes.extend(ctx.notes)
    return TimelineOutputs(files, notes)


def _as_timeline(tracks):
    import opentimelineio as otio

    tl = otio.schema.Timeline()
    for t in tracks:
        tl.tracks.append(copy.deepcopy(t))
    return tl
