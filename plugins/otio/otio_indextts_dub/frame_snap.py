"""``pre_adapter_write`` hook: frame-snap the dub tracks of an indextts-dub master timeline.

A master timeline keeps dub clips at 48 kHz, sample-exact; FCP 7 XML, .kdenlive, AAF and most
editor formats hold only frame times. When such a format is written (``otioconvert -i
out/timeline.otio -o cut.xml``), this hook replaces each dub track (a track carrying
``metadata["indextts_dub"]["character"]`` whose times are at 48 kHz) with its frame-rate copy:
every clip starts on the frame at or before its sample and its media, written beside the
target as ``<target>_media/NNNN_Name.wav``, carries the sub-frame remainder as leading
silence. OTIO formats (.otio/.otioz/.otiod) are written unchanged.

The frame rate is the one the dub recorded (``metadata["indextts_dub"]["source_timeline"]``),
else the timeline's global start time, else its picture track; ``-H rate=25`` overrides
(``otioconvert ... -H rate=24000/1001``).
"""
from __future__ import annotations

import copy
from pathlib import Path

KEEP = {".otio", ".otioz", ".otiod", ".json"}
from indextts_dub.cues.otio_json import KEY


def _frame_rate(timeline, argument_map):
    from fractions import Fraction

    from indextts_dub import timebase
    from indextts_dub.cues.timeline_in import video_rate
    from indextts_dub.timebase import SAMPLE_RATE

    given = argument_map.get("rate")
    if given:
        from indextts_dub.timebase import parse_rate

        return parse_rate(str(given), "rate")
    own = timeline.metadata.get(KEY) if KEY in timeline.metadata else None
    if own is not None:
        src = own.get("source_timeline")
        if src is not None and src.get("frame_rate"):
            return Fraction(str(src["frame_rate"]))
        if own.get("frame_rate"):
            return Fraction(str(own["frame_rate"]))
    gst = timeline.global_start_time
    if gst is not None and timebase.rate_fraction(gst.rate) != SAMPLE_RATE:
        return timebase.rate_fraction(gst.rate)
    return video_rate(timeline)


def hook_function(in_timeline, argument_map=None):
    import opentimelineio as otio

    from indextts_dub import timebase
    from indextts_dub.deliver.timelines import framesnap

    argument_map = argument_map or {}
    target = argument_map.get("_filepath")
    if not target or Path(str(target)).suffix.lower() in KEEP or not isinstance(in_timeline, otio.schema.Timeline):
        return in_timeline
    todo = [i for i, t in enumerate(in_timeline.tracks) if framesnap.is_dub_track(t) and framesnap.needs_snapping(t)]
    if not todo:
        return in_timeline
    rate = _frame_rate(in_timeline, argument_map)
    if rate is None:
        raise ValueError("indextts-dub frame snap: the timeline has no frame rate to snap its dub tracks to; "
                         "pass one with -H rate=25")
    target = Path(str(target))
    media_dir = target.with_name(f"{target.stem}_media")
    programme = timebase.rt_to_samples(in_timeline.duration())
    out = copy.deepcopy(in_timeline)

    def wav_path(url: str) -> Path:
        return Path(otio.url_utils.filepath_from_url(url))

    media_dir.mkdir(parents=True, exist_ok=True)
    for i in todo:
        out.tracks[i] = framesnap.snap_track(in_timeline.tracks[i], rate, programme, wav_path, media_dir,
                                             lambda p: p.resolve().as_uri())
    gst = out.global_start_time
    if gst is None or timebase.rate_fraction(gst.rate) != rate:
        start = 0 if gst is None else round(timebase.rt_to_samples(gst) * rate / 48000)
        out.global_start_time = otio.opentime.RationalTime(start, timebase.rate_float(rate))
    if KEY in out.metadata:
        out.metadata[KEY]["frame_rate"] = timebase.rate_text(rate)
    else:
        out.metadata[KEY] = {"frame_rate": timebase.rate_text(rate)}
    return out
