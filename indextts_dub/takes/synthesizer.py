"""Stage 4, takes: speak each line with its engine; measure it; solve the engine speed.

Every take is trimmed of leading and trailing silence and resampled to 48 kHz, so its
length is the speech's own length in master samples. Takes come from, in order: this
run's memory, the take cache on disk (:mod:`.cache`), the engine. The engine
is loaded only when a take is missing, so a re-run with nothing changed never loads a model.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .. import audio
from ..engines import Engine, EngineError, EngineInfo, Request
from ..lines import Line
from ..timebase import SAMPLE_RATE
from .cache import TakeCache, content_key

# an exact-length engine's take within this many samples of its target is padded or trimmed
# to it (one mel frame of IndexTTS2 is 256 samples at 22.05 kHz, 557 at 48 kHz)
EXACT_RESIDUAL = 600
# Engines' length does not scale as 1/speed: pauses and per-phoneme rounding do not follow
# the knob (Kokoro at 1.25 is 12-17 % shorter, not 20 %). A take at speed s is modelled as
# natural * (f + (1 - f) / s), where f, the share that stays fixed, is learned per engine, voice
# and language from the takes already made (the median of the observed shares, kept in the
# take cache); this prior holds until there are MIN_OBSERVATIONS of them.
FIXED_SHARE = 0.25
MIN_OBSERVATIONS = 3
# natural takes missing from the cache go to the engine's batch call (Engine.synthesize_many) this
# many at a time, one voice per batch: each finished batch is in the take cache at once
BATCH = 8


def predict_speed(ratio: float, share: float = FIXED_SHARE) -> float:
    """Engine speed expected to shorten (ratio > 1) or lengthen (< 1) a take by ``ratio`` when
    ``share`` of its length does not follow the knob."""
    denom = 1 / ratio - share
    return (1 - share) / denom if denom > 0 else float("inf")


def observed_share(natural: int, speed: float, samples: int) -> float | None:
    """The fixed share a take of ``samples`` at ``speed`` shows against its ``natural`` length
    (None when the speed is too close to 1 to tell, or the figure is implausible)."""
    inv = 1 / speed
    if natural <= 0 or abs(1 - inv) < 0.02:
        return None
    share = (samples / natural - inv) / (1 - inv)
    return share if -0.5 <= share <= 0.9 else None


@dataclass(frozen=True)
class Take:
    """One rendering of a line: trimmed audio at 48 kHz and what it took."""

    index: int                 # Line.index
    speed: float
    stored: np.ndarray | audio.Spilled   # float32, 48 kHz, trimmed (or kept on disk: read as .audio)
    passes: int = 1            # renders the speed solve went through (from cache or engine alike;
                               # 0 = an earlier take re-used as is)
    content: str = ""          # the take cache's content key (what the take is made of, but speed)
    target: int | None = None  # the length (samples) a speed solve chose it for

    @property
    def audio(self) -> np.ndarray:
        return audio.samples(self.stored)

    @property
    def samples(self) -> int:
        return int(self.stored.size)


class NotCached(LookupError):
    """In an offline (dry) run: the take would have to be spoken."""


@dataclass
class Synthesizer:
    """Speaks lines with one engine, through the take cache, and keeps count of what that cost.

    ``load`` returns the engine and is called at most once, on the first take that is
    neither in memory nor in the cache. With ``offline`` the engine is never called:
    a missing take raises :class:`NotCached` (what ``--dry-run`` reports). With a ``spill``
    the takes it keeps for the rest of the run wait on disk, not in memory.
    """

    info: EngineInfo
    load: Callable[[], Engine]
    cache: TakeCache | None = None
    seed: int = 0
    offline: bool = False
    spill: audio.Spill | None = None
    calls: int = 0              # engine calls this run
    engine_seconds: float = 0.0
    _engine: Engine | None = None
    _memo: dict = field(default_factory=dict)
    _chosen: dict = field(default_factory=dict)      # (content, speed) -> target, this run
    _shares: dict | None = None                      # the speed model as the run began
    _observed: dict = field(default_factory=dict)    # fixed shares this run's renders showed

    def _keep(self, key: tuple, x: np.ndarray) -> np.ndarray | audio.Spilled:
        """Remember ``x`` for this run (on disk with a spill); what a Take holds."""
        stored = self.spill.put(x) if self.spill is not None else x
        self._memo[key] = stored
        return stored

    def _recall(self, key: tuple) -> np.ndarray | None:
        stored = self._memo.get(key)
        return None if stored is None else audio.samples(stored)

    def _model_key(self, line: Line) -> str:
        return f"{self.info.name}|{self.info.version}|{self.info.model_id}|{line.language}|{line.voice}"

    def share(self, line: Line) -> float:
        """The fixed share of this line's voice and language (see :data:`FIXED_SHARE`): from the
        take cache's speed model as it was when the run began (so a resumed run predicts as an
        uninterrupted one), the voice's own observations, else the engine's in that language."""
        if self._shares is None:
            self._shares = self.cache.speed_shares() if self.cache is not None else {}
        key = self._model_key(line)
        own = self._shares.get(key, [])
        if len(own) >= MIN_OBSERVATIONS:
            return float(np.median(own))
        prefix = key.rsplit("|", 1)[0] + "|"
        pooled = [v for k, vs in self._shares.items() if k.startswith(prefix) for v in vs]
        return float(np.median(pooled)) if len(pooled) >= MIN_OBSERVATIONS else FIXED_SHARE

    def remember_speeds(self) -> None:
        """Store what this run's renders taught the speed model (call when the run succeeded)."""
        if self.cache is not None and not self.offline:
            self.cache.add_speed_shares(self._observed)

    @property
    def engine(self) -> Engine | None:
        """The engine, if this run loaded it."""
        return self._engine

    def request(self, line: Line, speed: float) -> Request:
        return Request(text=line.speech_text, voice=line.voice, language=line.language, speed=float(round(speed, 4)),
                       emotion=line.emotion.request() if line.emotion is not None else None,
                       reference=line.reference, reference_hash=line.reference_hash, seed=self.seed)

    def content(self, line: Line) -> str:
        """The take cache's key for this line's content (everything but speed). What the engine
        ignores does not make takes differ (emotion for engines without it, a reference clip for
        engines that cannot clone), and a clip counts by its content hash, never its path."""
        ident = {"name": self.info.name, "version": self.info.version, "model": self.info.model_id}
        made_of = {"text": line.speech_text, "voice": line.voice, "language": line.language,
                   "emotion": {"key": line.emotion.key()} if line.emotion is not None and self.info.emotion else None,
                   "reference_hash": line.reference_hash if self.info.reference_voice else None, "seed": self.seed}
        return content_key(ident, made_of)

    def _render(self, request: Request, content: str, key: float, target: int | None = None) -> np.ndarray:
        """The engine's take of ``request`` (the engine loaded on first use), trimmed and at 48 kHz
        (an exact-length take within :data:`EXACT_RESIDUAL` of ``target`` made exactly that long),
        stored in the cache under ``(content, key)`` the moment it is finished."""
        if self._engine is None:
            self._engine = self.load()
        t0 = time.perf_counter()
        raw = self._engine.synthesize(request)
        self.engine_seconds += time.perf_counter() - t0
        self.calls += 1
        return self._finish(raw, content, key, target)

    def _finish(self, raw: np.ndarray, content: str, key: float, target: int | None = None) -> np.ndarray:
        sr = self.info.sample_rate
        x = audio.resample(audio.trim_silence(np.asarray(raw, np.float32).ravel(), sr), sr, SAMPLE_RATE)
        if target is not None and 0 < abs(x.size - target) <= EXACT_RESIDUAL:
            x = audio.fit_length(x, target, SAMPLE_RATE)
        if self.cache is not None:
            self.cache.put(content, key, x)
        return x

    def speak(self, line: Line, speed: float) -> np.ndarray:
        """Trimmed 48 kHz audio of ``line`` at ``speed``."""
        speed = float(round(speed, 4))
        content = self.content(line)
        key = (content, speed)
        if key in self._memo:
            return self._recall(key)
        x = self.cache.get(content, speed) if self.cache is not None else None
        if x is None:
            if self.offline:
                raise NotCached(f"line {line.index} at speed {speed:.4f}")
            x = self._render(self.request(line, speed), content, speed)
        self._keep(key, x)
        return x

    def natural(self, line: Line) -> Take:
        return Take(line.index, 1.0, self.speak(line, 1.0), 1, self.content(line))

    def voice_of(self, line: Line) -> str:
        """What a line's conditioning depends on: its reference clip's content for an engine that
        clones, else its voice id."""
        return (line.reference_hash or line.voice) if self.info.reference_voice else line.voice

    def naturals(self, lines: Sequence[Line], progress: Callable[[int, int], None] | None = None) -> dict[int, Take]:
        """Every line at its natural reading (``Line.index`` -> take). Lines neither in memory nor
        in the take cache are spoken grouped by voice (:meth:`voice_of`), through the engine's batch
        call (``Engine.synthesize_many``, by default one by one) at most :data:`BATCH` at a time, so
        an engine that clones computes each voice's conditioning once and a batching engine gets
        one voice's lines together. Offline, a missing take raises :class:`NotCached`."""
        out: dict[int, Take] = {}
        todo: dict[str, list[Line]] = {}          # voice -> lines to speak, in first-seen order
        pending: dict[str, list[Line]] = {}       # content -> lines sharing it (spoken once)
        done = 0
        for ln in lines:
            content = self.content(ln)
            x = self._memo.get((content, 1.0))
            if x is None and content not in pending and self.cache is not None:
                x = self.cache.get(content, 1.0)
                if x is not None:
                    x = self._keep((content, 1.0), x)
            if x is not None:
                out[ln.index] = Take(ln.index, 1.0, x, 1, content)
                done += 1
                if progress:
                    progress(done, len(lines))
                continue
            if self.offline:
                raise NotCached(f"line {ln.index} at speed 1.0000")
            if content not in pending:
                todo.setdefault(self.voice_of(ln), []).append(ln)
            pending.setdefault(content, []).append(ln)
        for group in todo.values():
            for i in range(0, len(group), BATCH):
                batch = group[i:i + BATCH]
                if self._engine is None:
                    self._engine = self.load()
                t0 = time.perf_counter()
                raws = list(self._engine.synthesize_many([self.request(ln, 1.0) for ln in batch]))
                self.engine_seconds += time.perf_counter() - t0
                if len(raws) != len(batch):
                    raise EngineError(f"engine {self.info.name}: synthesize_many returned {len(raws)} takes "
                                      f"for {len(batch)} requests")
                self.calls += len(batch)
                for ln, raw in zip(batch, raws):
                    content = self.content(ln)
                    x = self._keep((content, 1.0), self._finish(raw, content, 1.0))
                    for same in pending[content]:
                        out[same.index] = Take(same.index, 1.0, x, 1, content)
                        done += 1
                        if progress:
                            progress(done, len(lines))
        return out

    def chosen(self, line: Line) -> list[Take]:
        """The takes of this line's content that finished speed solves chose (this run or earlier)."""
        content = self.content(line)
        speeds = {s: t for (c, s), t in self._chosen.items() if c == content}
        if self.cache is not None:
            for s in self.cache.chosen(content):
                speeds.setdefault(s, self.cache.chosen_for(content, s))
        out = []
        for speed in sorted(speeds):
            try:
                out.append(Take(line.index, speed, self.speak(line, speed), 0, content, speeds[speed]))
            except NotCached:
                continue
        return out

    def _choose(self, line: Line, take: Take, target: int | None = None) -> Take:
        self._chosen[(take.content, take.speed)] = target
        if self.cache is not None and not self.offline:
            self.cache.mark_chosen(take.content, take.speed, target)
        return take

    def at_target(self, line: Line, natural: Take, ratio: float, target: int,
                  bounds: tuple[float, float]) -> Take:
        """The engine speed that brings ``line`` to ``target`` samples, within ``bounds`` (the
        engine's own speed range: the plan's bounds are on the tempo a listener hears), in one
        render at most; the fit stage stretches what is left.

        ``ratio`` is the plan's length ratio (natural / target).

        1. The natural take is kept when the plan asks for natural speed or it is already
           within the engine's tolerance of the target (``EngineInfo.speed_tolerance``, the
           residual stretch its takes bear without audible harm: 7 % for the built-in engine);
           the pitch-preserving stretch of the fit stage does the rest. A render would only
           trade that stretch for another pass. An exact-length engine renders every other
           line once at the target instead (:meth:`exact`).
        2. Re-use: a take an earlier solve of this content chose (this run or an earlier one),
           within the engine's tolerance of the target (``EngineInfo.speed_tolerance``), or
           chosen for a target within that tolerance, is used as is and only re-fitted: a cue
           moved or resized, or a re-run with nothing changed, costs no synthesis.
        3. One shot: the speed :func:`predict_speed` gives with this voice's learned fixed
           share (:meth:`share`) is rendered once and marked chosen in the cache for this
           target; its length teaches the speed model (stored when the run succeeds).

        A solve's render is found again by its exact speed: an interrupted run resumed from the
        cache decides exactly as an uninterrupted one.
        """
        lo, hi = bounds
        if abs(ratio - 1.0) < 1e-6:
            return self._choose(line, natural)
        if self.info.exact_length:
            return self.exact(line, natural, target, bounds)
        within = np.log1p(self.info.speed_tolerance)

        def off(n: int | None) -> float:
            return abs(np.log(max(n, 1) / max(target, 1))) if n is not None else float("inf")

        if off(natural.samples) <= within:
            return self._choose(line, natural)

        fitting = [t for t in self.chosen(line) if off(t.samples) <= within or off(t.target) <= within]
        if fitting:
            return min(fitting, key=lambda t: (min(off(t.samples), off(t.target)), t.speed))
        if not self.info.native_speed:          # no knob to turn: the stretcher does it all
            return self._choose(line, natural)
        s = float(round(min(max(predict_speed(ratio, self.share(line)), lo), hi), 4))
        calls = self.calls
        x = self.speak(line, s)
        if self.calls > calls:
            seen = observed_share(natural.samples, s, x.size)
            if seen is not None:
                self._observed.setdefault(self._model_key(line), []).append(seen)
        return self._choose(line, Take(line.index, s, x, 2, self.content(line), target), target)

    def exact(self, line: Line, natural: Take, target: int, bounds: tuple[float, float]) -> Take:
        """An exact-length engine (``EngineInfo.exact_length``) renders ``line`` once at ``target``
        samples (kept within ``bounds`` of the natural take); no speed is solved. A take this line
        was given before (a chosen take, see :meth:`at_target`) within the engine's tolerance of
        the target is re-used instead. A take is stored under its content and its length ratio
        (natural / target) and marked chosen the moment it is rendered. A residual of at most
        :data:`EXACT_RESIDUAL` samples is padded or trimmed; a larger one is left to the fit."""
        lo, hi = bounds
        n = natural.samples
        if n > 0:
            target = min(max(int(target), math.ceil(n / hi)), int(n / lo))
        tol = self.info.speed_tolerance
        fitting = [t for t in self.chosen(line) if abs(np.log(max(t.samples, 1) / max(target, 1))) <= np.log1p(tol)]
        if fitting:
            return min(fitting, key=lambda t: (abs(np.log(t.samples / max(target, 1))), t.speed))
        content = self.content(line)
        ratio = float(round(n / target, 4)) if target else 1.0
        if ratio == 1.0:
            return self._choose(line, natural)
        key = (content, ratio)
        x = self._recall(key)
        if x is None and self.cache is not None:
            x = self.cache.get(content, ratio)
        if x is None:
            if self.offline:
                raise NotCached(f"line {line.index} at {target} samples")
            sr = self.info.sample_rate
            req = dataclasses.replace(self.request(line, 1.0), target_samples=int(round(target * sr / SAMPLE_RATE)),
                                      natural_samples=int(round(n * sr / SAMPLE_RATE)))
            x = self._render(req, content, ratio, target)
        if key not in self._memo:
            self._keep(key, x)
        return self._choose(line, Take(line.index, ratio, x, 1, content))
