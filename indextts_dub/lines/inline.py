"""Inline overrides written inside subtitle text: ``{key=value}`` tags (collected by
:func:`indextts_dub.cues.cue.clean_text`, never spoken) that change one line's emotion, voice,
speed bounds or language (:data:`KNOWN`; the table is in ``docs/casting.md``). An inline emotion
replaces the character's for that line only; an inline ``alpha`` alone rescales the emotion the
line inherits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..cues import Cue
from ..engines import EngineInfo
from ..errors import Problems
from ..voices.ids import resolve_voice, unknown_voice_message
from . import emotion as emo

KNOWN = ("emotion", "emotion_text", "emotion_ref", "alpha", "emotion_alpha", "voice", "speed", "speed_min",
         "speed_max", "lang", "language")


@dataclass(frozen=True)
class Tags:
    emotion: emo.EmotionSpec | None = None
    alpha: float | None = None
    voice: str | None = None
    language: str | None = None
    speed_min: float | None = None
    speed_max: float | None = None


def _float(value: str, problems: Problems, cue: Cue, key: str) -> float | None:
    try:
        x = float(value)
    except ValueError:
        problems.add(cue.file, cue.line, f"{{{key}}}", f"{value!r} is not a number")
        return None
    if not 0 < x < 10:
        problems.add(cue.file, cue.line, f"{{{key}}}", f"{value!r} is not a speed factor")
        return None
    return x


def parse(cue: Cue, info: EngineInfo) -> Tags:
    """The cue's inline tags, checked; :class:`DubError` names the subtitle file, line and tag."""
    if not cue.tags:
        return Tags()
    problems = Problems()
    tags = dict(cue.tags)
    for key in tags:
        if key not in KNOWN:
            problems.add(cue.file, cue.line, f"{{{key}}}", f"unknown inline tag; known: {', '.join(KNOWN)}")
    src = f"{Path(cue.file).name}:{cue.line}"
    emotion, alpha, bad = emo.read_forms(tags, Path(cue.file).resolve().parent, src, per_line=True)
    for key, message in bad:
        problems.add(cue.file, cue.line, f"{{{key}}}", message)
    voice = None
    if "voice" in tags:
        voice = resolve_voice(tags["voice"].strip(), info)
        if voice is None:
            problems.add(cue.file, cue.line, "{voice}", unknown_voice_message(tags["voice"].strip(), info))
    language = None
    for key in ("lang", "language"):
        if key in tags:
            language = tags[key].strip().lower()
            if language not in ("en", "zh"):
                problems.add(cue.file, cue.line, f"{{{key}}}", f"{tags[key]!r} is not one of en, zh")
                language = None
    smin = _float(tags["speed_min"], problems, cue, "speed_min") if "speed_min" in tags else None
    smax = _float(tags["speed_max"], problems, cue, "speed_max") if "speed_max" in tags else None
    if "speed" in tags:
        m = re.fullmatch(r"\s*(\d*\.?\d+)\s*(?:-|\.\.|~|,)\s*(\d*\.?\d+)\s*", tags["speed"])
        if not m:
            problems.add(cue.file, cue.line, "{speed}", f"{tags['speed']!r}: write bounds as min-max, e.g. 0.9-1.1")
        else:
            smin = _float(m.group(1), problems, cue, "speed")
            smax = _float(m.group(2), problems, cue, "speed")
    problems.raise_if_any()
    return Tags(emotion, alpha, voice, language, smin, smax)


def line_emotion(tags: Tags, character: emo.EmotionSpec | None, default: emo.EmotionSpec | None) -> emo.EmotionSpec | None:
    """The inline emotion, else the character's, else the project's default; an inline
    ``alpha`` alone rescales an inherited reference or text emotion."""
    chosen = tags.emotion or character or default
    if chosen is None or chosen.is_neutral:
        return None
    if tags.emotion is None and tags.alpha is not None and chosen.kind in ("ref", "text"):
        chosen = replace(chosen, alpha=tags.alpha)
    return chosen
