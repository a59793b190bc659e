"""Stage 4, takes: speak each line with its engine; measure it; solve the engine speed.

Every take is trimmed of leading and trailing silence and resampled to 48 kHz, so its
length is the speech's own length in master samples. Takes are memoised by content
(engine, voice, language, text, speed) for the run, so a line planned at speed 1.0
is never spoken twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import audio
from .casting import Line
from .engines import Engine, Request
from .timebase import SAMPLE_RATE

ACCEPT_LONG = 1.03     # a take this much over its target is left to the stretcher
ACCEPT_SHORT = 0.96    # ... and this much under it is padded
MAX_PASSES = 3
# Engines' length does not scale as 1/speed: pauses and per-phoneme rounding do not
# follow the knob (Kokoro at 1.25 is 12-17 % shorter, not 20 %). The first guess assumes
# this share of the natural length stays fixed; later passes fit the line's own curve.
FIXED_SHARE = 0.25


def first_guess(ratio: float) -> float:
    """Engine speed expected to shorten (ratio > 1) or lengthen (< 1) a take by ``ratio``."""
    denom = 1 / ratio - FIXED_SHARE
    return (1 - FIXED_SHARE) / denom if denom > 0 else float("inf")


@dataclass
class Take:
    line: int                  # Line.index
    speed: float
    audio: np.ndarray          # float32, 48 kHz, trimmed
    passes: int = 1            # synthesis calls this line has cost so far
    engine_seconds: float = 0.0

    @property
    def samples(self) -> int:
        return int(self.audio.size)


@dataclass
class Synthesizer:
    """Speaks lines with one engine and keeps count of what that cost."""

    engine: Engine
    seed: int = 0
    calls: int = 0
    engine_seconds: float = 0.0
    _memo: dict = field(default_factory=dict)

    def speak(self, line: Line, speed: float) -> tuple[np.ndarray, float | None]:
        """Trimmed 48 kHz audio of ``line`` at ``speed`` and the engine seconds it took
        (None when it came from the memo)."""
        key = (self.engine.info.name, line.voice, line.language, line.speech, round(speed, 4))
        if key in self._memo:
            return self._memo[key], None
        t0 = time.perf_counter()
        raw = self.engine.synthesize(Request(text=line.speech, voice=line.voice, language=line.language,
                                             speed=float(speed), seed=self.seed))
        dt = time.perf_counter() - t0
        self.calls += 1
        self.engine_seconds += dt
        sr = self.engine.info.sample_rate
        x = audio.trim_silence(np.asarray(raw, np.float32).ravel(), sr)
        x = audio.resample(x, sr, SAMPLE_RATE)
        self._memo[key] = x
        return x, dt

    def natural(self, line: Line) -> Take:
        x, dt = self.speak(line, 1.0)
        return Take(line.index, 1.0, x, int(dt is not None), dt or 0.0)

    def at_target(self, line: Line, natural: Take, speed: float, target: int,
                  bounds: tuple[float, float]) -> Take:
        """Solve the engine speed that brings ``line`` to ``target`` samples, within ``bounds``
        (the engine's own speed range: the plan's bounds are on the tempo a listener hears).

        ``speed`` is the plan's length ratio (natural / target). A natural take already within
        the stretcher's share of the target is kept. The first pass uses :func:`first_guess`;
        if its length misses the target by more than the stretcher should take, later passes
        fit ``len = a + b / speed`` through the last two takes. Returns the take closest to
        the target (the fit stage stretches what is left)."""
        lo, hi = bounds
        if abs(speed - 1.0) < 1e-6 or ACCEPT_SHORT * target <= natural.samples <= ACCEPT_LONG * target:
            return natural
        takes = [natural]
        passes, seconds = natural.passes, natural.engine_seconds
        s = min(max(first_guess(speed), lo), hi)
        for _ in range(MAX_PASSES - 1):
            x, dt = self.speak(line, s)
            passes += int(dt is not None)
            seconds += dt or 0.0
            takes.append(Take(line.index, s, x))
            n = x.size
            if ACCEPT_SHORT * target <= n <= ACCEPT_LONG * target:
                break
            if (n > target and s >= hi - 1e-6) or (n < target and s <= lo + 1e-6):
                break
            (s1, n1), (s2, n2) = (takes[-2].speed, takes[-2].samples), (s, n)
            b = (n1 - n2) / (1 / s1 - 1 / s2) if s1 != s2 else 0.0
            a = n1 - b / s1
            s_new = b / (target - a) if b > 0 and target > a else s * n / target
            s_new = min(max(s_new, lo), hi)
            if abs(s_new - s) < 0.005:
                break
            s = s_new
        best = min(takes[1:], key=lambda t: abs(np.log(max(t.samples, 1) / max(target, 1))))
        return Take(line.index, best.speed, best.audio, passes, seconds)
