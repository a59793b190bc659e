"""The master clock: integer samples at 48 000 Hz.

Subtitle times (ms, cs), frame counts and OpenTimelineIO rational times convert to
samples here, once, exactly. Nothing downstream holds time as float seconds.
"""
from __future__ import annotations

from fractions import Fraction

SAMPLE_RATE = 48_000


def ms_to_samples(ms: int) -> int:
    """Milliseconds (as pysubs2 gives them) to samples at 48 kHz; exact."""
    return int(ms) * (SAMPLE_RATE // 1000)


def samples_to_ms(samples: int) -> float:
    return samples * 1000 / SAMPLE_RATE


def seconds_to_samples(seconds: Fraction | int) -> int:
    """An exact rational number of seconds to the nearest sample."""
    return round(Fraction(seconds) * SAMPLE_RATE)


def frames_to_samples(frames: int, fps: Fraction) -> int:
    """Whole frames at a rational frame rate to the nearest sample (exact for 23.976: 24 frames = 48 048)."""
    return round(Fraction(frames) * SAMPLE_RATE / Fraction(fps))


def timecode(samples: int) -> str:
    """``HH:MM:SS.mmm`` for messages and reports (display only)."""
    sign = "-" if samples < 0 else ""
    ms = round(abs(samples) * 1000 / SAMPLE_RATE)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
