"""Slow the picture where the dub cannot fit: the plan's retime edit list, written for an
editor (``retime.json``) and, on request, rendered with the bundled ffmpeg.

An edit is a range of the source picture (samples at 48 kHz) and a factor > 1: the range
plays ``factor`` times longer. Rendering cuts the video at the edit boundaries, slows the
edited pieces (``setpts``; the original audio, if any, with ``atempo`` so it stays in
step), joins them and re-encodes the picture (H.264) at the source frame rate. The dub is
planned in the retimed picture's time, so it lines up with the result.
"""
from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

from ..errors import DubError
from ..fsio import atomic_path, atomic_write
from ..media import VideoInfo, ffmpeg_reason, ffmpeg_exe
from ..plan import Plan, RetimeEdit
from ..timebase import SAMPLE_RATE


def edit_list(plan: Plan, fps: Fraction | None = None) -> dict:
    """The document written as ``retime.json``."""
    edits = []
    for e in plan.retime:
        d = e.as_dict()
        if fps:
            d["start_frame"] = int(Fraction(e.start, SAMPLE_RATE) * fps)
            d["end_frame"] = int(-(-Fraction(e.end, SAMPLE_RATE) * fps // 1))
        edits.append(d)
    return {"format": "indextts-dub.retime/1", "sample_rate": SAMPLE_RATE, "applied": plan.retime_applied,
            "note": "slow the picture in each range by its factor (the range plays factor times longer); "
                    "times are of the source picture", "edits": edits}


def write_edit_list(plan: Plan, path: Path, fps: Fraction | None = None) -> Path:
    with atomic_write(path, "w") as fh:
        json.dump(edit_list(plan, fps), fh, indent=2)
        fh.write("\n")
    return path


def _sec(samples: int) -> str:
    return f"{Fraction(samples, SAMPLE_RATE).numerator / Fraction(samples, SAMPLE_RATE).denominator:.6f}"


def _atempo(factor: float) -> str:
    """atempo chain slowing by ``factor`` (each atempo stage takes 0.5-2)."""
    tempo = 1 / factor
    stages = []
    while tempo < 0.5:
        stages.append("atempo=0.5")
        tempo /= 0.5
    stages.append(f"atempo={tempo:.6f}")
    return ",".join(stages)


def render(video: VideoInfo, edits: tuple[RetimeEdit, ...] | list[RetimeEdit], out: Path,
           crf: int = 18, preset: str = "veryfast") -> Path:
    """Write the retimed video (picture re-encoded; the original audio slowed alongside)."""
    if not edits:
        raise ValueError("no edits to render")
    cuts = [0]
    for e in edits:
        cuts += [e.start, e.end]
    cuts.append(video.duration)
    pieces = []
    factors = {(e.start, e.end): e.factor for e in edits}
    for a, b in zip(cuts, cuts[1:]):
        if b > a:
            pieces.append((a, b, factors.get((a, b), 1.0)))
    graph = []
    labels = []
    audio = video.has_audio
    for k, (a, b, f) in enumerate(pieces):
        setpts = f"setpts={f:.9f}*(PTS-STARTPTS)" if f != 1.0 else "setpts=PTS-STARTPTS"
        graph.append(f"[0:v:0]trim=start={_sec(a)}:end={_sec(b)},{setpts}[v{k}]")
        labels.append(f"[v{k}]")
        if audio:
            tempo = f",{_atempo(f)}" if f != 1.0 else ""
            graph.append(f"[0:a:0]atrim=start={_sec(a)}:end={_sec(b)},asetpts=PTS-STARTPTS{tempo}[a{k}]")
            labels.append(f"[a{k}]")
    graph.append(f"{''.join(labels)}concat=n={len(pieces)}:v=1:a={1 if audio else 0}[vout]" + ("[aout]" if audio else ""))
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error", "-i", video.path,
            "-filter_complex", ";".join(graph), "-map", "[vout]"]
    if audio:
        args += ["-map", "[aout]", "-c:a", "aac", "-b:a", "192k", "-ar", str(SAMPLE_RATE)]
    fps = video.fps
    args += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
             "-fps_mode", "cfr", "-r", f"{fps.numerator}/{fps.denominator}"]
    with atomic_path(out) as tmp:
        proc = subprocess.run(args + [str(tmp)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise DubError.at(video.path, None, "--retime-video", f"rendering failed: {ffmpeg_reason(proc.stderr)}")
    return out
