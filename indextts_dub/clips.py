"""Stage 5, clips: every take made exactly as long as its plan says, at 48 kHz, at its level.

The plan gives each line a start sample, a clip length and a speech length. The engine's
speed did most of the work of reaching the speech length; what is left goes to a
pitch-preserving stretch (Rubber Band R3), finished by padding or trimming to the exact
sample count. After the speech the clip carries silence up to its planned length (to the
cue end where its track has room). The character's ``gain_db`` is applied here; nothing changes a
clip afterwards.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from . import audio
from .lines import Line
from .plan import PlanEntry
from .takes import Take, TakeCache
from .timebase import SAMPLE_RATE

EXACT_SAMPLES = 96      # a take within 2 ms of its planned speech is padded or trimmed, not stretched


@dataclass(frozen=True)
class Clip:
    """A line's fitted audio, placed on the master clock."""

    line: Line
    start: int                 # samples at 48 kHz (the plan's start: may precede the cue by the lead-in)
    stored: np.ndarray | audio.Spilled   # float32, exactly the planned clip length (or kept on disk: read as .audio)
    speed: float               # tempo a listener hears: natural / speech (the plan's speed)
    residual: float            # stretch after the engine (take / speech; 1.0 none, >1 compressed)
    natural: int               # natural speech length, samples
    speech_samples: int        # speech length inside the clip
    passes: int                # renders the speed solve went through
    reason: str
    warnings: list[str] = field(default_factory=list)
    engine_speed: float = 1.0  # the speed knob the engine was given
    entry: PlanEntry | None = None
    take_key: str = ""         # the take cache's content key of the take it was fitted from
    qa: dict | None = None     # with --qa: what was heard and its score (indextts_dub.qa)

    @property
    def audio(self) -> np.ndarray:
        return audio.samples(self.stored)

    @property
    def length(self) -> int:
        return int(self.stored.size)

    @property
    def end(self) -> int:
        return self.start + self.length


def stretched(take: Take, n: int, cache: TakeCache | None = None) -> np.ndarray:
    """``take`` stretched to exactly ``n`` samples (:func:`audio.stretch_to`), through ``cache``
    when given: the stretch is stored beside the take, keyed by the take, its audio, the length
    and the stretcher, so a re-run re-fits a line without stretching it again."""
    if cache is None or not take.content:
        return audio.stretch_to(take.audio, SAMPLE_RATE, n)
    x = np.ascontiguousarray(take.audio, np.float32)
    method = f"{audio.stretch_method()}/{hashlib.sha256(x.tobytes()).hexdigest()[:20]}"
    y = cache.stretched(take.content, take.speed, n, method)
    if y is None:
        y = audio.stretch_to(x, SAMPLE_RATE, n)
        cache.put_stretched(take.content, take.speed, method, y)
    return y


def fit(take: Take, entry: PlanEntry, line: Line, cache: TakeCache | None = None) -> Clip:
    """Fit one take to its plan entry: ``entry.speech_samples`` samples of speech, then silence
    to ``entry.length``, to start on ``entry.start``, at the line's ``gain_db``; a stretch goes
    through ``cache`` when given (:func:`stretched`)."""
    n = take.samples
    warnings = list(entry.warnings)
    target = entry.speech_samples
    out = np.zeros(entry.length, np.float32)
    if n == 0:
        warnings.append("the engine returned silence for this line")
        return Clip(line, entry.start, out, entry.speed, 1.0, entry.natural, 0, take.passes, entry.reason,
                    warnings, take.speed, entry, take.content)
    if abs(n - target) <= EXACT_SAMPLES:
        x = audio.fit_length(take.audio, target, SAMPLE_RATE)
    else:
        x = stretched(take, target, cache)
    out[:target] = x[: entry.length]
    if line.gain_db:
        out = out * np.float32(10 ** (line.gain_db / 20))
    return Clip(line, entry.start, out, entry.speed, n / target, entry.natural, target, take.passes, entry.reason,
                warnings, take.speed, entry, take.content)
