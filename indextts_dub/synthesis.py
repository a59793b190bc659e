"""Stage 4, takes: speak each line with its engine; measure it; solve the engine speed.

Every take is trimmed of leading and trailing silence and resampled to 48 kHz, so its
length is the speech's own length in master samples. Takes come from, in order: this
run's memory, the take cache on disk (:mod:`indextts_dub.cache`), the engine. The engine
is loaded only when a take is missing, so a re-run with nothing changed never loads a model.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import audio
from .cache import TakeCache, content_key
from .casting import Line
from .engines import Engine, EngineInfo, Request
from .timebase import SAMPLE_RATE

ACCEPT_LONG = 1.03     # a take this much over its target is left to the stretcher
ACCEPT_SHORT = 0.96    # ... and this much under it is padded
MAX_PASSES = 3
# an exact-length engine's take within this many samples of its target is padded or trimmed
# to it (one mel frame of IndexTTS2 is 256 samples at 22.05 kHz, 557 at 48 kHz)
EXACT_RESIDUAL = 600
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
    passes: int = 1            # renders the speed solve went through (from cache or engine alike;
                               # 0 = an earlier take re-used as is)
    content: str = ""          # the take cache's content key (what the take is made of, but speed)

    @property
    def samples(self) -> int:
        return int(self.audio.size)


class NotCached(LookupError):
    """In an offline (dry) run: the take would have to be spoken."""


@dataclass
class Synthesizer:
    """Speaks lines with one engine, through the take cache, and keeps count of what that cost.

    ``load`` returns the engine and is called at most once, on the first take that is
    neither in memory nor in the cache. With ``offline`` the engine is never called:
    a missing take raises :class:`NotCached` (what ``--dry-run`` reports).
    """

    info: EngineInfo
    load: Callable[[], Engine]
    cache: TakeCache | None = None
    seed: int = 0
    offline: bool = False
    calls: int = 0              # engine calls this run
    engine_seconds: float = 0.0
    _engine: Engine | None = None
    _memo: dict = field(default_factory=dict)

    @property
    def engine(self) -> Engine | None:
        """The engine, if this run loaded it."""
        return self._engine

    def request(self, line: Line, speed: float) -> Request:
        return Request(text=line.speech, voice=line.voice, language=line.language, speed=float(round(speed, 4)),
                       emotion=line.emotion.request() if line.emotion is not None else None,
                       reference=line.reference, reference_hash=line.reference_hash, seed=self.seed)

    def content(self, line: Line) -> str:
        """The take cache's key for this line's content (everything but speed). What the engine
        ignores does not make takes differ (emotion for engines without it, a reference clip for
        engines that cannot clone), and a clip counts by its content hash, never its path."""
        ident = {"name": self.info.name, "version": self.info.version, "model": self.info.model_id}
        req = self.request(line, 1.0)
        req = dataclasses.replace(
            req, reference=None,
            emotion={"key": line.emotion.key()} if line.emotion is not None and self.info.emotion else None,
            reference_hash=req.reference_hash if self.info.reference_voice else None)
        return content_key(ident, req)

    def stored_speeds(self, line: Line) -> list[float]:
        content = self.content(line)
        found = {s for (c, s) in self._memo if c == content}
        if self.cache is not None:
            found.update(self.cache.speeds(content))
        return sorted(found)

    def speak(self, line: Line, speed: float) -> np.ndarray:
        """Trimmed 48 kHz audio of ``line`` at ``speed``."""
        speed = float(round(speed, 4))
        content = self.content(line)
        key = (content, speed)
        if key in self._memo:
            return self._memo[key]
        x = self.cache.get(content, speed) if self.cache is not None else None
        if x is None:
            if self.offline:
                raise NotCached(f"line {line.index} at speed {speed:.4f}")
            if self._engine is None:
                self._engine = self.load()
            t0 = time.perf_counter()
            raw = self._engine.synthesize(self.request(line, speed))
            self.engine_seconds += time.perf_counter() - t0
            self.calls += 1
            sr = self.info.sample_rate
            x = audio.resample(audio.trim_silence(np.asarray(raw, np.float32).ravel(), sr), sr, SAMPLE_RATE)
            if self.cache is not None:
                self.cache.put(content, speed, x)      # durable the moment it is finished
        self._memo[key] = x
        return x

    def natural(self, line: Line) -> Take:
        return Take(line.index, 1.0, self.speak(line, 1.0), 1, self.content(line))

    def stored(self, line: Line) -> list[Take]:
        """Every take of this line's content held in memory or in the cache, at any speed."""
        out = []
        for speed in self.stored_speeds(line):
            try:
                out.append(Take(line.index, speed, self.speak(line, speed), 0, self.content(line)))
            except NotCached:
                continue
        return out

    def at_target(self, line: Line, natural: Take, ratio: float, target: int,
                  bounds: tuple[float, float]) -> Take:
        """Solve the engine speed that brings ``line`` to ``target`` samples, within ``bounds``.

        ``ratio`` is the plan's length ratio (natural / target).

        1. Re-use: a stored take of this content (any speed within bounds, from this run
           or an earlier one) whose length is within the accept window of the target is
           used as is: a cue moved or slightly resized costs no synthesis.
        2. Solve: the first render uses :func:`first_guess`; if its length misses the
           window, later renders fit ``len = a + b / speed`` through the last two takes.

        A solve stops at its first take inside the window, so the only stored take of a
        line inside the window is the one a finished solve chose: an interrupted run resumed
        from the cache decides exactly as an uninterrupted one. Returns the take closest to
        the target (a short one is preferred: padding is free).
        """
        lo, hi = bounds
        if abs(ratio - 1.0) < 1e-6:
            return natural
        if self.info.exact_length:
            return self.exact(line, natural, target, bounds)
        fitting = [t for t in self.stored(line) if lo - 1e-9 <= t.speed <= hi + 1e-9
                   and ACCEPT_SHORT * target <= t.samples <= ACCEPT_LONG * target]
        if fitting:
            best = min(fitting, key=lambda t: (abs(t.samples - target), t.speed))
            return Take(line.index, best.speed, best.audio, 0, best.content)
        takes = [natural]
        s = min(max(first_guess(ratio), lo), hi)
        for _ in range(MAX_PASSES - 1):
            s = float(round(s, 4))
            x = self.speak(line, s)
            takes.append(Take(line.index, s, x))
            n = x.size
            if ACCEPT_SHORT * target <= n <= ACCEPT_LONG * target:
                break
            if (n > target and s >= hi - 1e-6) or (n < target and s <= lo + 1e-6):
                break
            (s1, n1), (s2, n2) = (takes[-2].speed, takes[-2].samples), (s, n)
            b = (n1 - n2) / (1 / s1 - 1 / s2) if abs(s1 - s2) > 1e-9 else 0.0
            a = n1 - b / s1
            s_new = b / (target - a) if b > 0 and target > a else s * n / target
            s_new = min(max(s_new, lo), hi)
            if abs(s_new - s) < 0.005:
                break
            s = s_new
        best = min(takes[1:], key=lambda t: (abs(t.samples - target) if t.samples > target
                                             else abs(t.samples - target) * 0.5, t.speed))
        return Take(line.index, best.speed, best.audio, len(takes), self.content(line))

    def exact(self, line: Line, natural: Take, target: int, bounds: tuple[float, float]) -> Take:
        """An exact-length engine (``EngineInfo.exact_length``) renders ``line`` once at ``target``
        samples (kept within ``bounds`` of the natural take); no speed is solved. The take
        cache keys this take by the line's content and the target. A residual of at most
        :data:`EXACT_RESIDUAL` samples is padded or trimmed; a larger one is left to the fit."""
        lo, hi = bounds
        n = natural.samples
        if n > 0:
            target = min(max(int(target), math.ceil(n / hi)), int(n / lo))
        content = self.content(line)
        key = hashlib.sha256(f"{content}|exact|{target}".encode()).hexdigest()[:40]
        memo = (key, 1.0)
        x = self._memo.get(memo)
        if x is None and self.cache is not None:
            x = self.cache.get(key, 1.0)
        if x is None:
            if self.offline:
                raise NotCached(f"line {line.index} at {target} samples")
            if self._engine is None:
                self._engine = self.load()
            sr = self.info.sample_rate
            req = dataclasses.replace(self.request(line, 1.0), target_samples=int(round(target * sr / SAMPLE_RATE)),
                                      options={"natural_samples": int(round(n * sr / SAMPLE_RATE))})
            t0 = time.perf_counter()
            raw = self._engine.synthesize(req)
            self.engine_seconds += time.perf_counter() - t0
            self.calls += 1
            x = audio.resample(audio.trim_silence(np.asarray(raw, np.float32).ravel(), sr), sr, SAMPLE_RATE)
            if 0 < abs(x.size - target) <= EXACT_RESIDUAL:
                x = audio.fit_length(x, target, SAMPLE_RATE)
            if self.cache is not None:
                self.cache.put(key, 1.0, x)
        self._memo[memo] = x
        return Take(line.index, n / target if target else 1.0, x, 1, content)
