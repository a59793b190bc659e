"""Stage 5, fitted clips: every take made exactly as long as its plan says, at 48 kHz.

The engine's speed did most of the work; what is left (a few per cent) goes to a
pitch-preserving stretch (Rubber Band R3), then padding or trimming to the exact sample
count. A take shorter than its slot is padded with silence after the speech.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import audio
from .casting import Line
from .plan import PlanEntry
from .synthesis import Take
from .timebase import SAMPLE_RATE, samples_to_ms


@dataclass
class Clip:
    line: Line
    start: int                 # samples at 48 kHz
    audio: np.ndarray          # float32, exactly `length` samples
    speed: float               # engine speed used
    residual: float            # stretch factor after the engine (1.0 none, >1 compressed)
    natural: int               # natural speech length, samples
    speech: int                # speech length inside the clip, samples
    passes: int                # renders the speed solve went through
    reason: str
    warnings: list[str] = field(default_factory=list)
    take: str = ""             # content key of the take (see cache.py)

    @property
    def length(self) -> int:
        return int(self.audio.size)

    @property
    def end(self) -> int:
        return self.start + self.length


def fit(take: Take, entry: PlanEntry, line: Line) -> Clip:
    """Fit one take to its plan entry; see the module docstring for the rules."""
    n = take.samples
    warnings = list(entry.warnings)
    reason = entry.reason
    if n == 0:
        warnings.append("the engine returned silence for this line")
        x = np.zeros(entry.slot, np.float32)
        return Clip(line, entry.start, x, take.speed, 1.0, entry.natural, 0, take.passes, reason,
                    warnings=warnings, take=take.content)
    if n <= entry.slot:
        length, speech, residual = entry.slot, n, 1.0
        x = audio.fit_length(take.audio, length, SAMPLE_RATE)
    elif not entry.may_spill:
        length = speech = entry.slot
        residual = n / length
        x = audio.stretch_to(take.audio, SAMPLE_RATE, length)
    elif n <= entry.limit:
        length = speech = n
        residual = 1.0
        x = take.audio
        warnings.append(f"runs {samples_to_ms(n - entry.slot):.0f} ms past its cue end")
    else:
        length = speech = entry.limit
        residual = n / length
        x = audio.stretch_to(take.audio, SAMPLE_RATE, length)
        over = samples_to_ms(n - entry.limit)
        warnings.append(f"compressed x{residual:.2f} after the engine's fastest speed ({over:.0f} ms too long "
                        f"for the room before the next line)")
    return Clip(line, entry.start, np.asarray(x, np.float32), take.speed, residual, entry.natural, speech,
                take.passes, reason, warnings=warnings, take=take.content)
