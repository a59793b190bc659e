"""Time to read, merge and write a 2 000-clip timeline in each format.

A 2 000-clip input timeline (one picture track of 2 000 shots at 23.976, with markers and
metadata) is written in each input format; then, per format, the script times reading it
(``open_timeline``), merging 2 000 dub clips into it (two characters, the master at 48 kHz:
:func:`otio_out.splice` of :func:`timeline.dub_track`) and writing each output (the master
and the editor copies, including frame-snapping and writing the 2 000 clip media).
Times are printed in seconds and as ratios to the OTIO JSON figure of the same run; nothing
is asserted. Run: ``python benchmarks/timeline_bench.py [--clips 2000]``.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indextts_dub import audio, timebase  # noqa: E402
from indextts_dub.deliver.timelines import editors, master as timeline_mod  # noqa: E402
from indextts_dub.cues.timeline_in import TimelineOptions, open_timeline  # noqa: E402
from indextts_dub.cues.otio_json import dump  # noqa: E402
from indextts_dub.deliver.timelines.outputs import EditorCopy, base_document, splice  # noqa: E402
from indextts_dub.lines import Line  # noqa: E402
from indextts_dub.cues import Cue  # noqa: E402
from indextts_dub.clips import Clip  # noqa: E402
from indextts_dub.timebase import SAMPLE_RATE  # noqa: E402

RATE = Fraction(24000, 1001)


def make_input(n: int):
    import opentimelineio as otio

    r = timebase.rate_float(RATE)
    tl = otio.schema.Timeline(name="bench", global_start_time=otio.opentime.RationalTime(86400, r))
    tl.metadata["studio"] = {"show": "bench"}
    v = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i in range(n):
        ref = otio.schema.ExternalReference(target_url=f"file:///media/shot_{i:05d}.mov",
                                            available_range=otio.opentime.TimeRange(
                                                otio.opentime.RationalTime(0, r), otio.opentime.RationalTime(96, r)))
        c = otio.schema.Clip(name=f"shot {i}", media_reference=ref, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(12, r), otio.opentime.RationalTime(72, r)))
        c.metadata["shot"] = {"id": i}
        v.append(c)
    tl.tracks.append(v)
    for i in range(0, n, 50):
        tl.tracks.markers.append(otio.schema.Marker(name=f"m{i}", marked_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(i * 72, r), otio.opentime.RationalTime(1, r))))
    return tl


def make_clips(n: int, programme: int, media_dir: Path):
    clips, paths = [], {}
    slot = programme // n
    x = (0.3 * np.sin(np.arange(int(0.8 * SAMPLE_RATE)) * 0.05)).astype(np.float32)
    for i in range(n):
        ch = "Alice" if i % 2 == 0 else "Bob"
        start = i * slot + 517
        cue = Cue(i + 1, str(i + 1), start, start + x.size, f"line {i + 1}", file="bench.srt", line=4 * i + 2)
        ln = Line(i + 1, cue, ch, "v", "en", f"line {i + 1}", f"line {i + 1}")
        clips.append(Clip(ln, start, x, 1.0, 1.0, x.size, x.size, 1, "bench"))
        p = media_dir / f"{i + 1:04d}_{ch}.wav"
        audio.write_wav(p, x, SAMPLE_RATE)
        paths[i + 1] = p
    return clips, paths


def timed(fn):
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        out = fn()
    return time.perf_counter() - t, out


def main(argv=None) -> int:
    import opentimelineio as otio

    from indextts_dub.deliver.timelines import framesnap

    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=2000)
    args = ap.parse_args(argv)
    n = args.clips
    tmp = Path(tempfile.mkdtemp(prefix="timeline-bench-"))
    try:
        src = make_input(n)
        inputs = {"otio_json": tmp / "in.otio", "fcp_xml": tmp / "in.xml", "kdenlive": tmp / "in.kdenlive"}
        for adapter, path in inputs.items():
            with contextlib.redirect_stdout(io.StringIO()):
                otio.adapters.write_to_file(src, str(path), adapter_name=adapter)
        try:
            import otio_aaf_adapter  # noqa: F401

            with contextlib.redirect_stdout(io.StringIO()):
                otio.adapters.write_to_file(src, str(tmp / "in.aaf"), adapter_name="AAF", use_empty_mob_ids=True)
            inputs["AAF"] = tmp / "in.aaf"
        except ImportError:
            pass
        (tmp / "media").mkdir()
        opts = TimelineOptions(allow_offline_media=True)
        print(f"{n}-clip timeline at 23.976 fps, {n} dub clips (2 characters); seconds (ratio to otio_json)")
        rows = []
        for adapter, path in inputs.items():
            t_read, tin = timed(lambda: open_timeline(path, opts, check_media=False))
            clips, media = make_clips(n, tin.length, tmp / "media")
            t_merge, doc = timed(lambda: splice(base_document(tin), [
                t for ch in ("Alice", "Bob") for t in timeline_mod.dub_tracks(ch, clips, media, tin.length)],
                {"sample_rate": SAMPLE_RATE})[0])
            t_master, _ = timed(lambda: (tmp / f"master_{adapter}.otio").write_text(dump(doc), encoding="utf-8"))
            masters = [t for ch in ("Alice", "Bob") for t in timeline_mod.dub_tracks(ch, clips, media, tin.length)]
            mtl = otio.schema.Timeline()
            for t in masters:
                mtl.tracks.append(t)
            edir = tmp / f"editor_{adapter}"
            t_snap, snapped = timed(lambda: framesnap.snap_timeline_tracks(
                mtl, RATE, tin.length, lambda u: Path(otio.url_utils.filepath_from_url(u)), edir / "media"))
            eobj = copy.deepcopy(tin.timeline)
            for t in snapped:
                eobj.tracks.append(t)
            edoc, _ = splice(base_document(tin), snapped, {"frame_rate": timebase.rate_text(RATE)})
            ctx = EditorCopy("bench", edoc, eobj, RATE, tin.start_frame, False, tin.length, {}, 1920, 1080, path)
            row = {"format": adapter, "read": t_read, "merge": t_merge, "master .otio": t_master, "snap+media": t_snap}
            for fmt in editors.NAMES:
                spec = editors.FORMATS[fmt]
                t, _ = timed(lambda: spec.write(ctx, edir / spec.filename))
                row[f"write {spec.filename.split('.')[-1]}"] = t
            rows.append(row)
            for p in (tmp / "media").iterdir():
                p.unlink()
        base = rows[0]
        cols = list(rows[0])[1:]
        print(f"{'input':10s} " + " ".join(f"{c:>16s}" for c in cols))
        for row in rows:
            cells = []
            for c in cols:
                ratio = row[c] / base[c] if base[c] else float("nan")
                cells.append(f"{row[c]:7.3f} ({ratio:4.2f}x)")
            print(f"{row['format']:10s} " + " ".join(f"{x:>16s}" for x in cells))
        totals = {r["format"]: sum(v for k, v in r.items() if k != "format") for r in rows}
        print("total per input: " + ", ".join(f"{k} {v:.2f} s ({v / totals['otio_json']:.2f}x)" for k, v in totals.items()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
