"""Video in and out with the ffmpeg that ``imageio-ffmpeg`` ships (no system ffmpeg needed).

``probe`` reads the video stream packet by packet (``-c copy -f framemd5``: no decoding),
which gives its exact duration and frame rate as rationals and a checksum per packet;
``mux`` copies the video stream untouched and adds the dub as the first audio track,
keeping the original audio as the second.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .errors import DubError
from .fsio import atomic_path
from .timebase import SAMPLE_RATE


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise DubError.at(None, None, "--video", "muxing needs ffmpeg: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: int                 # samples at 48 kHz, of the video stream
    fps: Fraction                 # frames per second (rational: 24000/1001 for 23.976)
    frames: int
    width: int | None
    height: int | None
    codec: str
    has_audio: bool
    audio_codec: str | None
    packet_md5: tuple[str, ...]   # one per video packet, to prove a stream was copied untouched


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True)


def ffmpeg_reason(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "Invalid" in ln or "No such" in ln or "matches no streams" in ln:
            return ln
    return lines[-1] if lines else "ffmpeg failed"


def video_packets(path: str | Path, stream: str = "0:v:0") -> tuple[Fraction, list[tuple[int, int, str]]]:
    """(time base, [(pts, duration, md5)]) of one stream, read without decoding."""
    proc = _run(["-i", str(path), "-map", stream, "-c", "copy", "-f", "framemd5", "-"])
    if proc.returncode != 0:
        raise RuntimeError(ffmpeg_reason(proc.stderr))
    tb = None
    packets = []
    for ln in proc.stdout.splitlines():
        if ln.startswith("#tb"):
            num, den = ln.split(":", 1)[1].strip().split("/")
            tb = Fraction(int(num), int(den))
        elif ln and not ln.startswith("#"):
            parts = [p.strip() for p in ln.split(",")]
            packets.append((int(parts[2]), int(parts[3]), parts[5]))
    if tb is None:
        raise RuntimeError("ffmpeg printed no time base")
    return tb, packets


def probe(path: str | Path) -> VideoInfo:
    """Exact facts about a video file; a :class:`DubError` naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DubError.at(path, None, "--video", "file not found")
    head = _run(["-i", str(path)])
    text = head.stderr
    if "Invalid data found" in text or "moov atom not found" in text or "Stream #" not in text:
        raise DubError.at(path, None, "--video", f"not a readable media file ({ffmpeg_reason(text)})")
    videos = [m for m in re.finditer(r"Stream #\d+:\d+[^:]*: Video: (\w+)[^\n]*", text)
              if "(attached pic)" not in m.group(0)]
    if not videos:
        raise DubError.at(path, None, "--video", "has no video stream")
    size = re.search(r", (\d{2,5})x(\d{2,5})", videos[0].group(0))
    amatch = re.search(r"Stream #\d+:\d+[^:]*: Audio: (\w+)", text)
    try:
        tb, packets = video_packets(path)
    except RuntimeError as exc:
        raise DubError.at(path, None, "--video", f"cannot read the video stream ({exc})") from None
    if not packets:
        raise DubError.at(path, None, "--video", "the video stream has no frames")
    first = min(p[0] for p in packets)
    end = max(p[0] + p[1] for p in packets)
    durations = sorted(p[1] for p in packets if p[1] > 0)
    frame = durations[len(durations) // 2] if durations else 0
    fps = 1 / (tb * frame) if frame else Fraction(len(packets)) / ((end - first) * tb)
    duration = round((end - first) * tb * SAMPLE_RATE)
    return VideoInfo(
        path=str(path), duration=duration, fps=fps, frames=len(packets),
        width=int(size.group(1)) if size else None,
        height=int(size.group(2)) if size else None,
        codec=videos[0].group(1), has_audio=amatch is not None,
        audio_codec=amatch.group(1) if amatch else None,
        packet_md5=tuple(p[2] for p in packets),
    )


MP4_FAMILY = {".mp4", ".m4v", ".mov"}


def output_name(video: VideoInfo) -> str:
    """``dubbed.mp4`` for MP4/MOV input, ``dubbed.mkv`` for anything else (the codecs stay as they are)."""
    return "dubbed.mp4" if Path(video.path).suffix.lower() in MP4_FAMILY else "dubbed.mkv"


def mux(video: VideoInfo, dub_wav: str | Path, out: str | Path, language: str | None = None,
        audio_bitrate: str = "192k") -> Path:
    """Copy the video stream, add the dub (AAC) as audio track 1, keep the original audio as track 2."""
    out = Path(out)

    def attempt(copy_original: bool) -> subprocess.CompletedProcess:
        args = ["-y", "-v", "error", "-i", video.path, "-i", str(dub_wav),
                "-map", "0:v:0", "-map", "1:a:0"]
        if video.has_audio:
            args += ["-map", "0:a:0"]
        args += ["-c:v", "copy", "-c:a:0", "aac", "-b:a:0", audio_bitrate, "-ar:a:0", str(SAMPLE_RATE)]
        if video.has_audio:
            args += ["-c:a:1", "copy"] if copy_original else ["-c:a:1", "aac", "-b:a:1", audio_bitrate]
            args += ["-disposition:a:1", "0", "-metadata:s:a:1", "title=Original"]
        args += ["-disposition:a:0", "default", "-metadata:s:a:0", "title=Dub"]
        if language:
            args += ["-metadata:s:a:0", f"language={language}"]
        if out.suffix.lower() in MP4_FAMILY:
            args += ["-movflags", "+faststart"]
        args += [str(tmp)]
        return _run(args)

    with atomic_path(out) as tmp:
        proc = attempt(copy_original=True)
        if proc.returncode != 0 and video.has_audio:
            proc = attempt(copy_original=False)   # the original codec does not fit the container
        if proc.returncode != 0:
            raise DubError.at(video.path, None, "--video", f"muxing failed: {ffmpeg_reason(proc.stderr)}")
    return out
