"""``--qa retry``: a line that fails the check by ear is rendered again with the alternatives
the engine has, heard again, and the best take kept; what is still bad stays flagged.

The alternatives, in order (each one a new take, cached like any other; the first that passes
ends the search):

1. another reading of numbers and abbreviations: English digits spelled out as words
   (``3.5`` -> ``three point five``), capital abbreviations letter by letter (``PM`` -> ``P. M.``);
2. slower, with more borrowed time: the plan's room for the line up to its limit (the next line
   of the same character, a line of another character it may not overlap, the programme end;
   :func:`indextts_dub.plan.slower`), down to 0.9x natural: a rushed line said at a calmer tempo.
   No other line moves;
3. another voice of the same language and gender, one no other character of the run uses, only
   when the cast allows it for the character (``qa: {other_voice: true}``) and the line has a
   built-in voice of the engine (never instead of a cloned or library voice); with the room of 2
   when there was some;
4. another seed (two more), for engines that sample (IndexTTS2: its known failures are dropped
   final syllables and repeats). An engine that says it is deterministic
   (``EngineInfo.deterministic``, the built-in Kokoro), or that gives the same audio for another
   seed, is not asked again.

Except for 2 (and 3 with its room), the take keeps the line's planned slot and speed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..clips import Clip, fit
from ..engines import EngineInfo
from ..lines import Line
from ..plan import PlanEntry, slower
from ..takes import Synthesizer
from .ear import check, with_verdict
from .score import english_number

SEEDS = 2          # other seeds tried for an engine that samples


@dataclass(frozen=True)
class Attempt:
    """One alternative rendering of a failed line."""

    what: str                     # said in qa.kept when it wins
    line: Line
    entry: PlanEntry
    seed: int = 0                 # added to the run's seed


def spelled(text: str, language: str) -> str:
    """``text`` with English numbers as words and capital abbreviations letter by letter."""
    if language != "en":
        return text
    out = re.sub(r"\d+(?:,\d{3})*(?:\.\d+)?", english_number, text)
    out = re.sub(r"\b([A-Z]{2,4})\b", lambda m: " ".join(f"{c}." for c in m.group(1)), out)
    return re.sub(r"\s+", " ", out).strip()


def other_voice(line: Line, info: EngineInfo, taken: set[str]) -> str | None:
    """A voice for ``line`` of the same language and gender as its own, that nobody in ``taken``
    (the other characters' voices) uses, in the engine's order (its defaults first); None when
    the cast does not allow it, the line's voice is not one of the engine's, or there is none."""
    if not line.qa_other_voice or line.reference is not None:
        return None
    own = next((v for v in info.voices if v.id == line.voice), None)
    if own is None or own.gender is None:
        return None
    for v in info.voices:
        if v.id != line.voice and v.id not in taken and v.gender == own.gender and line.language in v.languages:
            return v.id
    return None


def alternatives(clip: Clip, info: EngineInfo | None = None, taken: set[str] = frozenset()) -> list[Attempt]:
    """What to try for a failed clip, in order (see the module docstring)."""
    line, entry = clip.line, clip.entry
    out = []
    text = spelled(line.speech_text, line.language)
    if text != line.speech_text:
        out.append(Attempt("numbers and abbreviations read out", replace(line, speech_text=text), entry))
    roomier = slower(entry)
    if roomier is not None:
        out.append(Attempt(f"slower ({roomier.speed:.2f}x, more room)", line, roomier))
    voice = other_voice(line, info, taken) if info is not None else None
    if voice is not None:
        swapped = replace(line, voice=voice, voice_source=f"{info.name}:{voice} (--qa retry: same language "
                                                          f"and gender, allowed by the cast's qa.other_voice)")
        out.append(Attempt(f"another voice ({voice})", swapped, roomier or entry))
    if info is None or not info.deterministic:
        out += [Attempt(f"seed +{k}", line, entry, k) for k in range(1, SEEDS + 1)]
    return out


def retry(clips: list[Clip], synth: Synthesizer, speed_range: tuple[float, float], threshold: float,
          cache_folder=None) -> list[Clip]:
    """``clips`` (already checked) with each failed one replaced by its best take."""
    voices: dict[str, set[str]] = {}
    for c in clips:
        voices.setdefault(c.line.character, set()).add(c.line.voice)
    out = []
    for clip in clips:
        if clip.qa is None or clip.qa["passed"] or clip.entry is None:
            out.append(clip)
            continue
        taken = set().union(*(v for who, v in voices.items() if who != clip.line.character))
        best, best_what, attempts, same_for_seeds = clip, "", 1, False
        for att in alternatives(clip, synth.info, taken):
            if att.seed and same_for_seeds:
                continue
            s = replace(synth, seed=synth.seed + att.seed) if att.seed else synth
            natural = s.natural(att.line)
            target = att.entry.speech_samples
            take = s.at_target(att.line, natural, natural.samples / max(target, 1), target, speed_range)
            if s is not synth:
                synth.calls, synth.engine_seconds = s.calls, s.engine_seconds
            candidate = fit(take, att.entry, att.line)
            if att.seed and np.array_equal(candidate.audio, clip.audio):
                same_for_seeds = True        # the same audio for another seed: no seed will help
                continue
            attempts += 1
            candidate = check([candidate], threshold, cache_folder)[0]
            if candidate.qa["score"] < best.qa["score"]:
                best, best_what = candidate, att.what
            if best.qa["passed"]:
                break
        record = dict(best.qa, attempts=attempts) | ({"kept": best_what} if best_what else {})
        out.append(with_verdict(best, record))
    return out
