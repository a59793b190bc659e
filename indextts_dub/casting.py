"""Stage 2, lines: the casting file, and cues cast into :class:`Line` s.

A casting file (YAML, one per project) says which character speaks with which voice::

    engine: kokoro                 # optional; the built-in engine by default
    default_voice: kokoro:jf_alpha # optional; speakers the file does not list use it
    characters:
      Alice:
        voice: kokoro:jf_alpha
        language: en               # optional; otherwise guessed per line
        aliases: [爱丽丝]           # optional; other spellings in the subtitles
        cues: [3, 7, "10-12"]      # optional; cue numbers this character speaks
      王老师: kokoro:jm_kumo        # short form: just the voice

Paths (later: reference clips) resolve relative to the casting file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import yamlfile
from .cues import Cue, join_display
from .engines import EngineInfo
from .errors import DubError, Problems
from .textenc import read_text
from .textnorm import has_han, speakable, speech_text

DEFAULT_CHARACTER = "Narrator"
TOP_FIELDS = ("version", "engine", "default_voice", "characters")
CHARACTER_FIELDS = ("voice", "language", "aliases", "cues")
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Character:
    name: str
    voice: str
    language: str | None = None
    aliases: tuple[str, ...] = ()
    cues: frozenset[int] = frozenset()
    lines: dict[str, int] = field(default_factory=dict, compare=False)   # field -> line in the cast file


@dataclass(frozen=True)
class Cast:
    file: str
    engine: str = "kokoro"
    default_voice: str | None = None
    characters: dict[str, Character] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    def find(self, speaker: str) -> Character | None:
        key = speaker.strip().casefold()
        for ch in self.characters.values():
            if ch.name.casefold() == key or key in (a.casefold() for a in ch.aliases):
                return ch
        return None


@dataclass(frozen=True)
class Line:
    """One cue, cast: who says it, with which voice, and what exactly the engine says."""

    index: int          # 1-based among spoken lines, in time order
    cue: Cue
    character: str
    voice: str          # the engine's voice id
    language: str
    text: str           # display text on one line
    speech: str         # normalised for the engine


@dataclass(frozen=True)
class Skipped:
    cue: Cue
    reason: str


@dataclass
class Casting:
    lines: list[Line]
    skipped: list[Skipped]
    warnings: list[str]


def _cue_numbers(value, path, line, problems: Problems, name: str) -> frozenset[int]:
    items = value if isinstance(value, list) else [value]
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            item = None
        if isinstance(item, int) and item > 0:
            out.add(item)
            continue
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", str(item)) if item is not None else None
        if m and int(m.group(1)) <= int(m.group(2)):
            out.update(range(int(m.group(1)), int(m.group(2)) + 1))
        else:
            problems.add(path, line, f"characters.{name}.cues",
                         f"{item!r} is not a cue number or a range like '10-12'")
    return frozenset(out)


def load_cast(path: str | Path) -> Cast:
    """Read and check a casting file; every problem is reported with its line and field."""
    path = Path(path)
    text, _ = read_text(path)
    data = yamlfile.load(path, text)
    problems = Problems()
    if data is None:
        raise DubError.at(path, None, None, "the casting file is empty; it needs at least 'characters' or 'default_voice'")
    if not isinstance(data, dict):
        raise DubError.at(path, 1, None, "a casting file is a mapping with 'characters' (and optionally 'default_voice', 'engine')")
    for key in data:
        if key not in TOP_FIELDS:
            problems.add(path, data.line(key), str(key), f"unknown field; known: {', '.join(TOP_FIELDS)}")
    engine = data.get("engine", "kokoro")
    if not isinstance(engine, str) or not engine.strip():
        problems.add(path, data.line("engine"), "engine", "must be an engine name such as 'kokoro'")
        engine = "kokoro"
    default_voice = data.get("default_voice")
    if default_voice is not None and (not isinstance(default_voice, str) or not default_voice.strip()):
        problems.add(path, data.line("default_voice"), "default_voice", "must be a voice name such as 'kokoro:jf_alpha'")
        default_voice = None
    chars_node = data.get("characters", {})
    characters: dict[str, Character] = {}
    if chars_node is None:
        chars_node = {}
    if not isinstance(chars_node, dict):
        problems.add(path, data.line("characters"), "characters", "must map character names to voices")
        chars_node = {}
    for name, spec in chars_node.items():
        line = chars_node.line(name)
        name = str(name).strip()
        where = f"characters.{name}"
        if isinstance(spec, str):
            spec = yamlfile.Mapping({"voice": spec}, start_line=line)
        if not isinstance(spec, dict):
            problems.add(path, line, where, "must be a voice name or a mapping with 'voice'")
            continue
        for key in spec:
            if key not in CHARACTER_FIELDS:
                problems.add(path, spec.line(key), f"{where}.{key}",
                             f"unknown field; known: {', '.join(CHARACTER_FIELDS)}")
        voice = spec.get("voice", default_voice)
        if not isinstance(voice, str) or not voice.strip():
            problems.add(path, spec.line("voice") if "voice" in spec else line, f"{where}.voice",
                         "missing: give a voice such as 'kokoro:jf_alpha'")
            continue
        language = spec.get("language")
        if language is not None and language not in LANGUAGES:
            problems.add(path, spec.line("language"), f"{where}.language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
            language = None
        aliases = spec.get("aliases", [])
        if isinstance(aliases, str):
            aliases = [aliases]
        if not isinstance(aliases, list) or not all(isinstance(a, (str, int)) for a in aliases):
            problems.add(path, spec.line("aliases"), f"{where}.aliases", "must be a list of names")
            aliases = []
        cues = _cue_numbers(spec["cues"], path, spec.line("cues"), problems, name) if "cues" in spec else frozenset()
        lines = {k: spec.line(k) for k in spec} | {"name": line}
        characters[name] = Character(name, voice.strip(), language, tuple(str(a) for a in aliases), cues, lines)
    if not characters and default_voice is None and not problems.items:
        problems.add(path, None, "characters", "no characters and no default_voice: nobody could speak")
    problems.raise_if_any()
    return Cast(str(path), engine.strip(), default_voice.strip() if default_voice else None, characters,
                {k: data.line(k) for k in data})


def resolve_voice(voice: str, info: EngineInfo) -> str | None:
    """``kokoro:jf_alpha`` or ``jf_alpha`` -> ``jf_alpha`` when the engine has it, else None."""
    engine, sep, name = voice.partition(":")
    if sep and engine != info.name:
        return None
    name = name if sep else voice
    return name if name in info.voice_ids() else None


def cast(cues: list[Cue], the_cast: Cast, info: EngineInfo, allow_overlap: bool = False) -> Casting:
    """Give every cue a character, voice, language and speech text.

    Cues with nothing to say are skipped and reported. Errors (collected, all at once):
    an unknown speaker with no default voice, a voice the engine lacks, one character's
    cues overlapping each other (unless ``allow_overlap``).
    """
    problems = Problems()
    warnings: list[str] = []
    cast_file = the_cast.file
    voices = {}
    for ch in the_cast.characters.values():
        v = resolve_voice(ch.voice, info)
        if v is None:
            problems.add(cast_file, ch.lines.get("voice", ch.lines.get("name")), f"characters.{ch.name}.voice",
                         f"unknown voice {ch.voice!r} for engine {info.name}; available: "
                         + ", ".join(f"{info.name}:{x}" for x in info.voice_ids()))
        voices[ch.name] = v
    default_voice = None
    if the_cast.default_voice:
        default_voice = resolve_voice(the_cast.default_voice, info)
        if default_voice is None:
            problems.add(cast_file, the_cast.lines.get("default_voice"), "default_voice",
                         f"unknown voice {the_cast.default_voice!r} for engine {info.name}; available: "
                         + ", ".join(f"{info.name}:{x}" for x in info.voice_ids()))
    problems.raise_if_any()

    by_number: dict[int, Character] = {}
    for ch in the_cast.characters.values():
        for n in ch.cues:
            if n in by_number:
                problems.add(cast_file, ch.lines.get("cues"), f"characters.{ch.name}.cues",
                             f"cue {n} is also given to {by_number[n].name}")
            by_number[n] = ch

    lines: list[Line] = []
    skipped: list[Skipped] = []
    unknown: dict[str, Cue] = {}
    known = ", ".join(the_cast.characters) or "(none)"
    for cue in cues:
        number = int(cue.id) if cue.id.isdigit() else cue.index
        ch = by_number.get(number)
        name = None
        if ch is None and cue.speaker:
            ch = the_cast.find(cue.speaker)
            name = cue.speaker
        if ch is None and cue.style:
            ch = the_cast.find(cue.style)
        if ch is not None:
            character, voice = ch.name, voices[ch.name]
            language = ch.language
        elif default_voice is not None:
            character, voice, language = name or DEFAULT_CHARACTER, default_voice, None
            if name and name not in unknown:
                unknown[name] = cue
                warnings.append(f"{cue.file}:{cue.line}: speaker {name!r} is not in the cast; "
                                f"using the default voice {info.name}:{default_voice}")
        else:
            field_ = "speaker" if name else "text"
            who = f"speaker {name!r} is not in the cast" if name else "this cue names no speaker"
            problems.add(cue.file, cue.line, field_,
                         f"{who} and the cast has no default_voice; known characters: {known}")
            continue
        display = join_display(cue.text)
        if cue.end == cue.start:
            skipped.append(Skipped(cue, "zero duration"))
            continue
        language = language or ("zh" if has_han(display) else "en")
        speech = speech_text(cue.text, language)
        if not speakable(speech):
            skipped.append(Skipped(cue, "no speakable text"))
            continue
        lines.append(Line(0, cue, character, voice, language, display, speech))
    problems.raise_if_any()

    last: dict[str, Line] = {}
    for ln in lines:
        prev = last.get(ln.character)
        if prev is not None and ln.cue.start < prev.cue.end:
            msg = (f"{ln.character}'s cue starts before their previous cue (line {prev.cue.line}) ends; "
                   "one voice cannot say two lines at once")
            if allow_overlap:
                warnings.append(f"{ln.cue.file}:{ln.cue.line}: start: {msg} (allowed: the earlier line is fitted to end first)")
            else:
                problems.add(ln.cue.file, ln.cue.line, "start", msg + "; fix the times or pass --allow-overlap")
        if prev is None or ln.cue.end > prev.cue.end:
            last[ln.character] = ln
    problems.raise_if_any()
    lines = [Line(i, ln.cue, ln.character, ln.voice, ln.language, ln.text, ln.speech)
             for i, ln in enumerate(lines, start=1)]
    return Casting(lines, skipped, warnings)
