"""Stage 2, lines: cues cast into :class:`Line` s: who says each, with which voice and emotion,
in which language, and exactly what the engine says.

The casting file is :mod:`.castfile`; inline overrides in the subtitle text :mod:`.inline`;
emotion forms :mod:`.emotion`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..cues import Cue, Skipped
from ..cues.cue import split_speaker
from ..cues import dialogue
from ..engines import EngineInfo
from ..errors import DubError, Problems
from ..text.script import LATIN_MIN_PROBABILITY, detect_language, language_name, latin_language
from ..text.speech import has_han, join_display, speakable, speech_text
from ..voices.ids import ResolvedVoice, builtin, native_voice
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
    qa_other_voice: bool = False                       # the cast lets --qa retry try another voice


@dataclass
class CastLines:
    """What casting made of the cues: the lines to speak, the cues skipped (and why), warnings,
    and how each character's voice was resolved (for plan.json)."""

    lines: list[Line]
    skipped: list[Skipped]
    warnings: list[str]
    voices: dict[str, dict] = field(default_factory=dict)   # character -> how its voice was resolved


def cast_cues(cues: list[Cue], cast_file: CastFile, info: EngineInfo, strict: bool = False,
              voices: dict[str, ResolvedVoice] | None = None,
              bounds: tuple[float, float] | None = DEFAULT_SPEED_BOUNDS,
              skip_unspeakable: bool = False) -> CastLines:
    """Give every cue a character, voice, emotion, language and speech text.

    ``voices`` maps character names ("" for the default voice) to resolved voices
    (:func:`indextts_dub.voices.resolve.resolve`); without it only built-in voices are allowed. Inline tags
    (``{emotion=angry:0.8}`` ...) override the character's defaults for one line.
    Cues with nothing to say are skipped and reported. Errors (collected, all at once):
    an unknown speaker with no default voice, a voice the engine lacks, a bad inline tag,
    one character's cues overlapping each other (only when ``strict``; else a warning, and the
    earlier line is fitted to end first), a line in a
    language the engine cannot speak (``EngineInfo.languages``; each such line named; with
    ``skip_unspeakable`` they are skipped and listed instead). A line's language is its
    inline tag's or its character's, else the one its letters are written in
    (:func:`indextts_dub.text.script.detect_language`).

    Cues that name no speaker and overlap each other, and the parts of a dash-dialogue cue that
    names nobody, are spoken by different voices: by
    layer, the default voice (``Narrator``), then ``Narrator 2``, ``Narrator 3`` ... with
    the engine's other built-in voices in its order, those the cast uses left out
    (:func:`_layer_unnamed`).
    """
    if voices is None:
        voices = resolve_builtin(cast_file.voices(), cast_file.file, info)
    bounds = tuple(bounds or DEFAULT_SPEED_BOUNDS)
    problems = Problems()
    warnings: list[str] = []
    path = cast_file.file
    default = voices.get("")
    for ch in cast_file.characters.values():
        if ch.name not in voices and ch.voice is None and default is None and not info.voices:
            problems.add(path, ch.lines.get("name"), f"characters.{ch.name}.voice",
                         f"missing, the cast has no default_voice and {info.name} has no voices of its own: "
                         "give a voice such as 'kokoro:af_heart', {ref: clip.wav} or {library: name}")
    problems.raise_if_any()

    by_number: dict[int, Character] = {}
    for ch in cast_file.characters.values():
        for n in ch.cues:
            if n in by_number:
                problems.add(path, ch.lines.get("cues"), f"characters.{ch.name}.cues",
                             f"cue {n} is also given to {by_number[n].name}")
            by_number[n] = ch

    lines: list[Line] = []
    skipped: list[Skipped] = list(getattr(cues, "skipped", []))     # what reading the file left out
    warnings.extend(getattr(cues, "warnings", []))
    unknown: dict[str, Cue] = {}
    chosen: dict[str, dict] = {}
    unnamed: list[int] = []              # positions in ``lines`` of lines whose cue names nobody
    natives: dict[str, ResolvedVoice] = {}
    known = ", ".join(cast_file.characters) or "(none)"
    latin = _file_latin(cues, info, warnings)
    for cue in cues:
        try:
            tags = inline.parse(cue, info)
        except DubError as exc:
            problems.items.extend(exc.problems)
            continue
        if cue.end == cue.start:
            skipped.append(Skipped(cue, "zero duration"))
            continue
        if not dialogue.tags_only(cue) and not speakable(speech_text(cue.text, "zh" if has_han(cue.text) else "en")):
            skipped.append(Skipped(cue, "no speakable text"))     # before asking who says it
            continue
        number = int(cue.id) if cue.id.isdigit() else cue.index
        ch = by_number.get(number)
        name = None
        if ch is None and cue.speaker:
            ch = cast_file.find(cue.speaker)
            name = cue.speaker
        if ch is None and cue.speaker is None and cue.prefix and cast_file.find(cue.prefix) is not None:
            ch = cast_file.find(cue.prefix)         # a prefix seen once, but the cast names the character
            cue = replace(cue, speaker=cue.prefix, speaker_from="prefix", text=split_speaker(cue.text)[2])
            name = cue.speaker
        if ch is None and cue.style:
            ch = cast_file.find(cue.style)
        if ch is not None:
            character = ch.name
            rv = voices.get(ch.name) or default     # None: a native voice for the language, below
            language = ch.language
        elif default is None and not cast_file.characters and info.voices:
            character, rv, language = name or DEFAULT_CHARACTER, None, None
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
        if tags.voice is not None:
            rv = builtin(tags.voice, info, inline=True)
        language = tags.language or language
        display = join_display(cue.text)
        if not display.strip():
            problems.add(cue.file, cue.line, "text", f"gives the speaker {character!r}"
                         f"{' and inline tags' if cue.tags else ''} but no words to say; write the line after them")
            continue
        if cue.end == cue.start:
            skipped.append(Skipped(cue, "zero duration"))
            continue
        language = language or detect_language(display) or (info.languages[0] if info.languages else "en")
        if language == "en" and latin and not tags.language and not (ch and ch.language):
            language = latin                # the file's Latin-script lines read as another language
        if info.languages and language not in info.languages:
            why = (f"written in {language_name(language)}, which the {info.name} engine cannot speak "
                   f"(it speaks {', '.join(info.languages)})")
            if skip_unspeakable:
                skipped.append(Skipped(cue, why))
            else:
                problems.add(cue.file, cue.line, "text" if cue.line else f"{cue.id}: text",
                             f"{why}; choose an engine that speaks it, or pass --skip-unspeakable to leave "
                             "such lines out")
            continue
        if rv is None:      # one native voice per character, for the language of their first line
            if character not in natives:
                v = native_voice(info, language) or info.voice_ids()[0]
                natives[character] = replace(builtin(v, info), source=f"{info.name}:{v} (native {language} voice)")
            rv = natives[character]
        speech = speech_text(cue.text, language)
        if not speakable(speech):
            skipped.append(Skipped(cue, "no speakable text"))
            continue
        emotion = inline.line_emotion(tags, ch.emotion if ch else None, cast_file.default_emotion)
        line_bounds = _line_bounds(tags, ch, bounds, cue, path, problems)
        if not (tags.voice is not None and character in chosen):
            chosen.setdefault(character, rv.record | {"voice": f"{info.name}:{rv.voice}", "source": rv.source})
        if ch is None and name is None and tags.voice is None:
            unnamed.append(len(lines))
        lines.append(Line(0, cue, character, rv.voice, language, display, speech, emotion, line_bounds,
                          ch.gain_db if ch else 0.0, ch.pan if ch else 0.0, rv.reference, rv.reference_hash,
                          rv.source, qa_other_voice=bool(ch and ch.qa_other_voice and tags.voice is None)))
    problems.raise_if_any()
    lines = _layer_unnamed(lines, unnamed, voices, info, chosen, warnings)

    last: dict[str, Line] = {}
    for ln in lines:
        prev = last.get(ln.character)
        if prev is not None and ln.cue.start < prev.cue.end:
            msg = (f"{ln.character}'s cue starts before their previous cue ({prev.cue.where}) ends; "
                   "one voice cannot say two lines at once")
            if strict:
                problems.add(ln.cue.file, ln.cue.line, "start" if ln.cue.line else f"{ln.cue.id}: start",
                             msg + "; fix the times (--strict refuses overlaps)")
            else:
                warnings.append(f"{ln.cue.source}: start: {msg} (the earlier line is fitted to end first; "
                                "--strict refuses this)")
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


def _file_latin(cues, info: EngineInfo, warnings: list[str]) -> str | None:
    """The language of a file's Latin-script lines when they read as one other than English
    (:func:`indextts_dub.text.script.latin_language`), said in a warning; None: English."""
    texts = [join_display(c.text) for c in cues if detect_language(c.text) == "en"]
    found = latin_language(texts)
    if found is None or found[0] == "en" or found[1] < LATIN_MIN_PROBABILITY:
        return None
    code, p = found
    name = cues[0].file if cues and cues[0].file else "the input"
    warnings.append(f"{name}: its Latin-script lines read as {language_name(code)} (p={p:.3f}), not English; "
                    "a character's language in the casting file decides for that character's lines")
    return code


def _layer_unnamed(lines: list[Line], unnamed: list[int], voices: dict[str, ResolvedVoice], info: EngineInfo,
                   chosen: dict[str, dict], warnings: list[str]) -> list[Line]:
    """Lines whose cues name no speaker, given out by layer: each takes the first layer free at
    its start (layer 1: the default voice, as ``Narrator``), except that a later part of a cue
    split at its dashes (``- Hi.`` / ``- Hello.``: two people by definition) never takes the layer
    of the part before it; layer k > 1 is ``Narrator k`` with the (k-1)-th of the engine's
    built-in voices native to the line's language (any, if none is) that neither the default
    voice nor any character of the cast uses (round the list again past its end). An engine without built-in voices keeps them all on the default
    voice (their overlaps are then same-character overlaps)."""
    if not unnamed:
        return lines
    taken = {rv.voice for rv in voices.values()} | {lines[p].voice for p in unnamed}
    spare_all = [v for v in info.voices if v.id not in taken]

    def spare(language: str) -> list[str]:
        """The unused built-in voices native to ``language`` (any unused one if none is)."""
        native = [v.id for v in spare_all if language in v.languages]
        return native or [v.id for v in spare_all]
    ends: list[int] = []                  # per layer, where its last line ends
    layer_of: dict[int, int] = {}
    part_layer: dict[tuple[str, int], tuple[int, int]] = {}   # (file, cue index) -> (turn, layer) of its last part
    dashed: set[int] = set()              # lines moved off a free layer because the part before holds it
    for pos in sorted(unnamed, key=lambda p: (lines[p].cue.start, p)):
        cue = lines[pos].cue
        before = part_layer.get((cue.file, cue.index))
        avoid = before[1] if before is not None and cue.turn == before[0] + 1 else None
        free = [i for i, end in enumerate(ends) if end <= cue.start]
        k = next((i for i in free if i != avoid), len(ends))
        if avoid is not None and free and free[0] == avoid:
            dashed.add(pos)
        if k == len(ends):
            ends.append(cue.end)
        ends[k] = max(ends[k], cue.end)
        layer_of[pos] = k
        if cue.turn:
            part_layer[(cue.file, cue.index)] = (cue.turn, k)
    if len(ends) < 2 or not spare_all:
        return lines
    out = list(lines)
    overlap: dict[str, int] = {}
    dash: dict[str, int] = {}
    for pos, k in layer_of.items():
        if k == 0:
            continue
        pool = spare(lines[pos].language)
        voice = pool[(k - 1) % len(pool)]
        character = f"{DEFAULT_CHARACTER} {k + 1}"
        rv = builtin(voice, info)
        source = f"{rv.source} (layer {k + 1} of the cues that name no speaker)"
        chosen.setdefault(character, rv.record | {"voice": f"{info.name}:{voice}", "source": source})
        out[pos] = replace(lines[pos], character=character, voice=voice, reference=None, reference_hash=None,
                           voice_source=source)
        counts = dash if pos in dashed else overlap
        counts[character] = counts.get(character, 0) + 1
    for counts, what in ((overlap, "cues that name no speaker overlap"),
                         (dash, "dash dialogue that names no speaker alternates voices")):
        if counts:
            warnings.append(f"{what}: " + ", ".join(
                f"{n} spoken by {c} ({chosen[c]['voice']})" for c, n in sorted(counts.items()))
                            + f", the rest by {DEFAULT_CHARACTER}; name the speakers to choose their voices")
    return out


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
