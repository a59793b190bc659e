"""Make samples/demo/clip.mp4: a 25 s test picture with a quiet tone track (the "original audio").

Run: python samples/make_demo_video.py   (uses the ffmpeg that imageio-ffmpeg ships)
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg

OUT = Path(__file__).with_name("demo") / "clip.mp4"
SECONDS = 25


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={SECONDS}",
        "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={SECONDS}",
        "-filter:a", "volume=0.05",
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryslow", "-crf", "38", "-pix_fmt", "yuv420p", "-g", "50",
        "-c:a", "aac", "-b:a", "32k", "-ac", "1",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-movflags", "+faststart", str(OUT),
    ]
    subprocess.run(cmd, check=True)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
