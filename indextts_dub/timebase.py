"""The one clock: integer samples at 48 000 Hz, exact frame rates, timecode.

Subtitle times (ms), frame counts and OpenTimelineIO rational times convert to samples here,
once, exactly; nothing downstream holds time as float seconds.

OpenTimelineIO stores rates as doubles (23.976 is ``24000/1001`` rounded to a double); every
rate that comes in is snapped here to the fraction it stands for, so frame arithmetic is
exact: 24 frames at 23.976 are 48 048 samples, not "about 48 048".
"""
from __future__ import annotations

import math
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


def timecode(samples: int) -> str:
    """``HH:MM:SS.mmm`` for messages and reports (display only)."""
    sign = "-" if samples < 0 else ""
    ms = round(abs(samples) * 1000 / SAMPLE_RATE)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


# ---------------------------------------------------------------- frame rates

NTSC_BASES = (24, 30, 48, 60, 120)           # 23.976, 29.97, 47.952, 59.94, 119.88
DROP_FRAME_BASES = (30, 60)                  # drop-frame timecode exists for 29.97 and 59.94


def rate_fraction(rate: float | Fraction | int) -> Fraction:
    """The exact rate a (double) rate stands for: integers, NTSC ``n*1000/1001`` rates (also
    when written as 23.976 or 29.97), else the nearest fraction with a small denominator."""
    if isinstance(rate, Fraction):
        return rate
    r = float(rate)
    if not math.isfinite(r) or r <= 0:
        raise ValueError(f"not a frame rate: {rate!r}")
    if abs(r - round(r)) < 1e-9:
        return Fraction(round(r))
    for base in NTSC_BASES:
        ntsc = base * 1000 / 1001
        if abs(r - ntsc) < 5e-3 * base / 24:        # 23.976, 23.98, 29.97 and the exact doubles
            return Fraction(base * 1000, 1001)
    return Fraction(r).limit_denominator(1001)


def rate_float(rate: Fraction) -> float:
    """The double OpenTimelineIO uses for ``rate`` (24000/1001 -> 23.976023976023978)."""
    return rate.numerator / rate.denominator


def rate_label(rate: Fraction) -> str:
    """``"23.976"``, ``"24"``, ``"29.97"``: for messages and metadata."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def rate_text(rate: Fraction) -> str:
    """The exact rate as text: ``"24000/1001"`` or ``"25"``."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def is_drop_frame_rate(rate: Fraction) -> bool:
    return rate.denominator == 1001 and rate.numerator // 1000 in DROP_FRAME_BASES


def samples_per_frame(rate: Fraction) -> Fraction:
    return Fraction(SAMPLE_RATE) / rate


def frame_to_sample(frame: int, rate: Fraction) -> int:
    """The sample a frame starts on (the nearest one when a frame is not a whole number of
    samples, as at 29.97: 1601.6 samples a frame)."""
    return round(Fraction(frame) * SAMPLE_RATE / rate)


def frame_at(sample: int, rate: Fraction) -> int:
    """The frame whose span holds ``sample`` (its start is at or before the sample)."""
    f = math.floor(Fraction(sample) * rate / SAMPLE_RATE)
    # frame_to_sample rounds: keep the invariant frame_to_sample(f) <= sample
    while frame_to_sample(f, rate) > sample:
        f -= 1
    while frame_to_sample(f + 1, rate) <= sample:
        f += 1
    return f


def frames_covering(sample: int, rate: Fraction) -> int:
    """The first frame boundary at or after ``sample`` (an exclusive end, in frames)."""
    f = frame_at(sample, rate)
    return f if frame_to_sample(f, rate) == sample else f + 1


def time_to_samples(value: float, rate: float | Fraction) -> int:
    """An OpenTimelineIO time (value at rate) to the nearest sample at 48 kHz, exactly."""
    return round(Fraction(value) * SAMPLE_RATE / rate_fraction(rate))


def rt_to_samples(rt) -> int:
    """An ``otio.opentime.RationalTime`` to samples at 48 kHz."""
    return time_to_samples(rt.value, rt.rate)


def smpte(frame: int, rate: Fraction, drop_frame: bool | None = None) -> str:
    """SMPTE timecode of a frame count (drop-frame with ``;`` at 29.97/59.94 unless told otherwise)."""
    import opentimelineio as otio

    df = is_drop_frame_rate(rate) if drop_frame is None else drop_frame
    return otio.opentime.to_timecode(otio.opentime.RationalTime(frame, rate_float(rate)), rate_float(rate), df)


def timecode_label_seconds(tc: str, rate: Fraction) -> Fraction:
    """What a timecode reads as on a clock: ``01:00:00;00`` -> 3600 s (frames over the nominal rate)."""
    parts = tc.replace(";", ":").replace(".", ":").split(":")
    h, m, s, f = (int(p) for p in parts)
    nominal = math.ceil(rate)
    return Fraction(h * 3600 + m * 60 + s) + Fraction(f, nominal)


def parse_rate(text: str, field: str = "rate") -> Fraction:
    """``24``, ``23.976``, ``24000/1001``, ``29.97`` -> an exact rate; :class:`DubError` naming
    ``field`` (a flag, an option) otherwise."""
    from .errors import DubError

    try:
        if "/" in text:
            num, den = text.split("/", 1)
            r = Fraction(int(num), int(den))
            return rate_fraction(float(r)) if r.denominator not in (1, 1001) else r
        return rate_fraction(float(text))
    except (ValueError, ZeroDivisionError):
        raise DubError.at(None, None, field, f"not a frame rate: {text!r} (e.g. 25, 23.976, 24000/1001)") from None
