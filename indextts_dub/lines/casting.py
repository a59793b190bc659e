"""Stage 2, lines: cues cast into :class:`Line` s: who says each, with which voice and emotion,
in which language, and exactly what the engine says.

The casting file is :mod:`.castfile`; inline overrides in the subtitle text :mod:`.inline`;
emotion forms :mod:`.emotion`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..cues import Cue
from ..engines import EngineInfo
from ..errors import DubError, Problems
from ..text.speech import has_han, join_display, speakable, speech_text
from ..voices.ids import ResolvedVoice, builtin
from ..voices.resolve import resolve_builtin
from . import emotion as emo
from . import inline
from .castfile import DEFAULT_SPEED_BOUNDS, CastFile, Character

DEFAULT_CHARACTER = "Narrator"


@dataclass(frozen=True)
class Line:
    """One cue, cast: who says it, with which voice and emotion, and what exactly the engine says."""

    index: int          # 1-based among spoken lines, in time order
    cue: Cue
    character: str
    voice: str          # the engine's voice id
    language: str
    text: str           # display text on one line
    speech_text: str    # what the engine says: normalised for speech (indextts_dub.text)
    emotion: emo.EmotionSpec | None = None                 # None: neutral
    speed_bounds: tuple[float, float] | None = None    # this line's own bounds, narrower than the run's
    gain_db: float = 0.0
    pan: float = 0.0                                   # -1 left .. +1 right
    reference: str | None = None                       # reference clip path, for engines that clone
    reference_hash: str | None = None
    voice_source: str = ""                             # how the voice was chosen, for the report


@dataclass(frozen=True)
class Skipped:
    """A cue with nothing to say."""

    cue: Cue
    reason: str


@dataclass
class CastLines:
    """What casting made of the cues: the lines to speak, the cues skipped (and why), warnings,
    and how each character's voice was resolved (for plan.json)."""

    lines: list[Line]
    skipped: list[Skipped]
    warnings: list[str]
    voices: dict[str, dict] = field(default_factory=dict)   # character -> how its voice was resolved


def cast_cues(cues: list[Cue], cast_file: CastFile, info: EngineInfo, allow_overlap: bool = False,
              voices: dict[str, ResolvedVoice] | None = None,
              bounds: tuple[float, float] | None = DEFAULT_SPEED_BOUNDS) -> CastLines:
    """Give every cue a character, voice, emotion, language and speech text.

    ``voices`` maps character names ("" for the default voice) to resolved voices
    (:func:`indextts_dub.voices.resolve.resolve`); without it only built-in voices are allowed. Inline tags
    (``{emotion=angry:0.8}`` ...) override the character's defaults for one line.
    Cues with nothing to say are skipped and reported. Errors (collected, all at once):
    an unknown speaker with no default voice, a voice the engine lacks, a bad inline tag,
    one character's cues overlapping each other (unless ``allow_overlap``).
    """
    if voices is None:
        voices = resolve_builtin(cast_file.voices(), cast_file.file, info)
    bounds = tuple(bounds or DEFAULT_SPEED_BOUNDS)
    problems = Problems()
    warnings: list[str] = []
    path = cast_file.file
    default = voices.get("")
    for ch in cast_file.characters.values():
        if ch.name not in voices and ch.voice is None and default is None:
            problems.add(path, ch.lines.get("name"), f"characters.{ch.name}.voice",
                         "missing, and the cast has no default_voice")
    problems.raise_if_any()

    by_number: dict[int, Character] = {}
    for ch in cast_file.characters.values():
        for n in ch.cues:
            if n in by_number:
                problems.add(path, ch.lines.get("cues"), f"characters.{ch.name}.cues",
                             f"cue {n} is also given to {by_number[n].name}")
            by_number[n] = ch

    lines: list[Line] = []
    skipped: list[Skipped] = []
    unknown: dict[str, Cue] = {}
    chosen: dict[str, dict] = {}
    known = ", ".join(cast_file.characters) or "(none)"
    for cue in cues:
        try:
            tags = inline.parse(cue, info)
        except DubError as exc:
            problems.items.extend(exc.problems)
            continue
        number = int(cue.id) if cue.id.isdigit() else cue.index
        ch = by_number.get(number)
        name = None
        if ch is None and cue.speaker:
            ch = cast_file.find(cue.speaker)
            name = cue.speaker
        if ch is None and cue.style:
            ch = cast_file.find(cue.style)
        if ch is not None:
            character = ch.name
            rv = voices.get(ch.name) or default
            language = ch.language
        elif default is not None:
            character, rv, language = name or DEFAULT_CHARACTER, default, None
            if name and name not in unknown:
                unknown[name] = cue
                warnings.append(f"{cue.source}: speaker {name!r} is not in the cast; "
                                f"using the default voice {default.source}")
        else:
            field_ = "speaker" if name else "text"
            who = f"speaker {name!r} is not in the cast" if name else "this cue names no speaker"
            problems.add(cue.file, cue.line, field_,
                         f"{who} and the cast has no default_voice; known characters: {known}")
            continue
        assert rv is not None
        if tags.voice is not None:
            rv = builtin(tags.voice, info, inline=True)
        language = tags.language or language
        display = join_display(cue.text)
        if cue.end == cue.start:
            skipped.append(Skipped(cue, "zero duration"))
            continue
        language = language or ("zh" if has_han(display) else "en")
        speech = speech_text(cue.text, language)
        if not speakable(speech):
            skipped.append(Skipped(cue, "no speakable text"))
            continue
        emotion = inline.line_emotion(tags, ch.emotion if ch else None, cast_file.default_emotion)
        line_bounds = _line_bounds(tags, ch, bounds, cue, path, problems)
        if not (tags.voice is not None and character in chosen):
            chosen.setdefault(character, rv.record | {"voice": f"{info.name}:{rv.voice}", "source": rv.source})
        lines.append(Line(0, cue, character, rv.voice, language, display, speech, emotion, line_bounds,
                          ch.gain_db if ch else 0.0, ch.pan if ch else 0.0, rv.reference, rv.reference_hash,
                          rv.source))
    problems.raise_if_any()

    last: dict[str, Line] = {}
    for ln in lines:
        prev = last.get(ln.character)
        if prev is not None and ln.cue.start < prev.cue.end:
            msg = (f"{ln.character}'s cue starts before their previous cue ({prev.cue.where}) ends; "
                   "one voice cannot say two lines at once")
            if allow_overlap:
                warnings.append(f"{ln.cue.source}: start: {msg} (allowed: the earlier line is fitted to end first)")
            else:
                problems.add(ln.cue.file, ln.cue.line, "start" if ln.cue.line else f"{ln.cue.id}: start",
                             msg + "; fix the times or pass --allow-overlap")
        if prev is None or ln.cue.end > prev.cue.end:
            last[ln.character] = ln
    problems.raise_if_any()
    lines = [replace(ln, index=i) for i, ln in enumerate(lines, start=1)]
    with_emotion = [ln for ln in lines if ln.emotion is not None and not ln.emotion.is_neutral]
    if with_emotion and not info.emotion:
        warnings.append(f"engine {info.name} cannot render emotion: {len(with_emotion)} of {len(lines)} lines carry "
                        "one; it is kept in plan.json and the timeline (IndexTTS2 renders it)")
    records = {ln.character: chosen[ln.character] for ln in lines if ln.character in chosen}
    return CastLines(lines, skipped, warnings, records)


def _line_bounds(tags, ch: Character | None, bounds: tuple[float, float], cue: Cue, path: str,
                 problems: Problems) -> tuple[float, float] | None:
    lo, hi = bounds
    own = ch.speed_bounds if ch else None
    if own is not None:
        lo, hi = max(lo, own[0]), min(hi, own[1])
        if lo > hi:
            problems.add(path, ch.lines.get("speed", ch.lines.get("speed_min", ch.lines.get("speed_max"))),
                         f"characters.{ch.name}.speed",
                         f"[{own[0]:g}, {own[1]:g}] does not overlap the run's bounds [{bounds[0]:g}, {bounds[1]:g}]")
            return None
    if tags.speed_min is not None or tags.speed_max is not None:
        tlo = tags.speed_min if tags.speed_min is not None else lo
        thi = tags.speed_max if tags.speed_max is not None else hi
        if tlo < lo - 1e-9 or thi > hi + 1e-9 or tlo > thi:
            problems.add(cue.file, cue.line, "speed",
                         f"inline speed bounds [{tlo:g}, {thi:g}] must lie inside [{lo:g}, {hi:g}]")
            return None
        lo, hi = tlo, thi
    return None if (lo, hi) == tuple(bounds) else (lo, hi)
