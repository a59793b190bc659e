"""The exact-length search both IndexTTS engines share: the engine's duration factor solved for
a target speech length in a few renders.

The speech length is close to linear in the factor (the mel stage interpolates the codes
uniformly; trimming keeps a fixed margin), so each render after the first is placed by the
secant through the last two (the natural take is the first point), within the factor's
bounds; the render nearest the target is kept.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def solve_factor(render: Callable[[float], np.ndarray], natural: int, target: int, sr: int,
                 bounds: tuple[float, float], renders: int, tolerance: int) -> np.ndarray:
    """The render of ``render(factor)`` whose trimmed speech is nearest ``target`` samples:
    stops within ``tolerance`` samples, at silence, after ``renders`` renders, or when the
    factor stops moving."""
    from .. import audio          # (engines describe themselves without the audio stack)

    lo, hi = bounds
    factor = min(max(target / natural, lo), hi)
    tried: list[tuple[float, int]] = [(1.0, natural)]
    best, best_err = None, 0
    for _ in range(renders):
        x = render(factor)
        speech = audio.trim_silence(x, sr).size
        err = speech - target
        if best is None or abs(err) < abs(best_err):
            best, best_err = x, err
        if abs(err) <= tolerance or speech == 0:
            break
        tried.append((factor, speech))
        (f1, s1), (f2, s2) = tried[-2], tried[-1]
        new = f2 + (target - s2) * (f2 - f1) / (s2 - s1) if s2 != s1 else factor * target / speech
        new = min(max(new, lo), hi)
        if abs(new - factor) < 1e-6:
            break
        factor = new
    return best
