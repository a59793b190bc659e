"""``--qa retry``: a line that fails the check by ear is rendered again with the alternatives
the engine has, heard again, and the best take kept; what is still bad stays flagged.

The alternatives, in order (each one a new take, cached like any other):

1. another reading of numbers and abbreviations: English digits spelled out as words
   (``3.5`` -> ``three point five``), capital abbreviations letter by letter (``PM`` -> ``P. M.``);
2. another seed, for engines that sample (IndexTTS2: its known failures are dropped final
   syllables and repeats); an engine that gives the same audio for another seed (the built-in
   Kokoro is deterministic) is not asked again.

The take keeps the line's planned slot and speed: a retry never moves another line.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from ..clips import Clip, fit
from ..takes import Synthesizer
from .ear import check, with_verdict
from .score import english_number

SEEDS = 2          # other seeds tried for an engine that samples


def spelled(text: str, language: str) -> str:
    """``text`` with English numbers as words and capital abbreviations letter by letter."""
    if language != "en":
        return text
    out = re.sub(r"\d+(?:,\d{3})*(?:\.\d+)?", english_number, text)
    out = re.sub(r"\b([A-Z]{2,4})\b", lambda m: " ".join(f"{c}." for c in m.group(1)), out)
    return re.sub(r"\s+", " ", out).strip()


def alternatives(clip: Clip) -> list[tuple[str, object, int]]:
    """``(what, line, seed offset)`` to try for a failed clip, in order."""
    line = clip.line
    out = []
    text = spelled(line.speech_text, line.language)
    if text != line.speech_text:
        out.append(("numbers and abbreviations read out", replace(line, speech_text=text), 0))
    out += [(f"seed +{k}", line, k) for k in range(1, SEEDS + 1)]
    return out


def retry(clips: list[Clip], synth: Synthesizer, speed_range: tuple[float, float], threshold: float,
          cache_folder=None) -> list[Clip]:
    """``clips`` (already checked) with each failed one replaced by its best take."""
    out = []
    for clip in clips:
        if clip.qa is None or clip.qa["passed"] or clip.entry is None:
            out.append(clip)
            continue
        best, best_what, attempts, deterministic = clip, "", 1, False
        for what, line, seed in alternatives(clip):
            if seed and deterministic:
                continue
            s = replace(synth, seed=synth.seed + seed) if seed else synth
            take = s.at_target(line, s.natural(line), clip.entry.speed, clip.entry.speech_samples, speed_range)
            if s is not synth:
                synth.calls, synth.engine_seconds = s.calls, s.engine_seconds
            candidate = fit(take, clip.entry, line)
            if seed and np.array_equal(candidate.audio, clip.audio):
                deterministic = True        # the same audio for another seed: no seed will help
                continue
            attempts += 1
            candidate = check([candidate], threshold, cache_folder)[0]
            if candidate.qa["score"] < best.qa["score"]:
                best, best_what = candidate, what
            if best.qa["passed"]:
                break
        record = dict(best.qa, attempts=attempts) | ({"kept": best_what} if best_what else {})
        out.append(with_verdict(best, record))
    return out
