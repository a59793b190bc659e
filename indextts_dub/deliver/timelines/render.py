"""A reference render of a timeline's audio with ffmpeg (the one ``imageio-ffmpeg`` ships).

Every audio clip with a file reference is trimmed in samples (``atrim=start_sample/end_sample``),
delayed to its place in samples (``adelay=<n>S``) and the tracks are summed without
normalisation (``amix normalize=0``), to exactly the timeline's length at 48 kHz mono. With
times in samples nothing is rounded, so a master timeline renders sample-exact; editor
copies render with their frame positions converted to the nearest sample.

Used by the tests to prove that a master timeline plays what the plan says, and usable to
hear any timeline's audio without an editor: ``python -m indextts_dub.deliver.timelines.render cut.otio out.wav``.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ... import timebase
from ...timebase import SAMPLE_RATE


@dataclass(frozen=True)
class Placed:
    """An audio clip placed on the timeline: ``file`` samples [src, src+length) play from ``start``."""

    name: str
    file: Path
    start: int
    src: int
    length: int


def placed_clips(timeline, base: Path | None = None) -> list[Placed]:
    """Every enabled audio clip with a local file, in samples at 48 kHz."""
    import opentimelineio as otio

    from ...cues.timeline_in import resolve_media_path

    out = []
    for track in timeline.tracks:
        if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Audio or not track.enabled:
            continue
        for i, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip) or not item.enabled:
                continue
            ref = item.media_reference
            if not isinstance(ref, otio.schema.ExternalReference):
                continue
            path = resolve_media_path(ref.target_url, base or Path.cwd() / "x")
            if path is None or not path.is_file():
                continue
            r = track.range_of_child_at_index(i)
            sr = item.trimmed_range()
            avail = ref.available_range.start_time if ref.available_range is not None else None
            src = timebase.rt_to_samples(sr.start_time) - (timebase.rt_to_samples(avail) if avail is not None else 0)
            out.append(Placed(item.name, path, timebase.rt_to_samples(r.start_time), src, timebase.rt_to_samples(r.duration)))
    return out


def render(timeline, out_wav: str | Path, length: int | None = None, base: Path | None = None) -> Path:
    """Render the audio tracks to a mono 48 kHz WAV (float) of ``length`` samples (default: the timeline's)."""
    from ...media import ffmpeg_exe

    clips = placed_clips(timeline, base)
    total = length if length is not None else timebase.rt_to_samples(timeline.duration())
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error",
            "-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=mono"]
    parts = [f"[0:a]atrim=end_sample={total}[base]"]
    labels = ["[base]"]
    for k, c in enumerate(clips, start=1):
        args += ["-i", str(c.file)]
        parts.append(f"[{k}:a]aresample={SAMPLE_RATE},aformat=sample_fmts=flt:channel_layouts=mono,"
                     f"atrim=start_sample={c.src}:end_sample={c.src + c.length},asetpts=N/SR/TB,"
                     f"adelay={c.start}S:all=1[c{k}]")
        labels.append(f"[c{k}]")
    parts.append(f"{''.join(labels)}amix=inputs={len(labels)}:normalize=0:dropout_transition=0:duration=first[mix]")
    script = ";\n".join(parts)
    out_wav = Path(out_wav)
    script_file = out_wav.with_name(f".{out_wav.name}.filter")
    script_file.write_text(script, encoding="utf-8")
    tail = ["-map", "[mix]", "-c:a", "pcm_f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", str(out_wav)]
    try:
        proc = subprocess.run(args + ["-/filter_complex", str(script_file)] + tail, capture_output=True, text=True)
        if proc.returncode != 0 and "Unrecognized option" in proc.stderr:      # ffmpeg before 7
            proc = subprocess.run(args + ["-filter_complex_script", str(script_file)] + tail,
                                  capture_output=True, text=True)
    finally:
        script_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not render the timeline: {proc.stderr.strip()[-800:]}")
    return out_wav


def main(argv: list[str] | None = None) -> int:
    from ...cues.timeline_in import TimelineOptions, open_timeline

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m indextts_dub.deliver.timelines.render TIMELINE OUT.wav", file=sys.stderr)
        return 2
    tin = open_timeline(argv[0], TimelineOptions(allow_offline_media=True), check_media=False)
    render(tin.timeline, argv[1], tin.length, base=tin.path)
    print(argv[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
