"""The casting file: who speaks with which voice and emotion, read and checked.

One YAML file per project: ``engine``, ``engine_options``, ``default_voice``,
``default_emotion``, ``voice_library``, ``fit`` and ``characters`` (each with its voice in one
of three forms, emotion in one of four, language, speed bounds, gain, pan, aliases, cue
numbers); the format is ``docs/casting.md``. Paths resolve relative to the casting file. Every
problem names the file, the line and the field; all of them are reported at once.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engines import refclip
from ..errors import DubError, Problems
from ..text.encoding import read_text
from ..voices.ids import VoiceSpec
from . import emotion as emo
from . import yamlfile

DEFAULT_SPEED_BOUNDS = (0.75, 1.25)
SPEED_LIMITS = (0.5, 2.0)        # what engines and listeners tolerate: no bound may lie outside


def speed_bounds_problem(lo, hi) -> str | None:
    """What is wrong with speed bounds ``(lo, hi)`` (None: nothing): each a number, ``lo <= 1 <= hi``,
    both within :data:`SPEED_LIMITS`."""
    a, b = SPEED_LIMITS
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) and a <= lo <= 1 <= hi <= b
    if ok:
        return None
    return (f"speed bounds must satisfy {a:g} <= min <= 1 <= max <= {b:g} (got {lo!r}, {hi!r}); "
            f"engines and listeners tolerate {a:g}-{b:g}x")
TOP_FIELDS = ("version", "engine", "engine_options", "default_voice", "default_emotion", "voice_library", "fit",
              "characters")
CHARACTER_FIELDS = ("voice", "ref", "library", "emotion", "emotion_ref", "emotion_alpha", "alpha", "emotion_text",
                    "language", "speed", "speed_min", "speed_max", "gain_db", "pan", "aliases", "cues", "qa")
QA_FIELDS = ("other_voice",)
FIT_FIELDS = ("speed_min", "speed_max", "fill")
LANGUAGES = ("en", "zh")
GAIN_DB_RANGE = (-40.0, 12.0)


@dataclass(frozen=True)
class Character:
    """One character of the casting file."""

    name: str
    voice: VoiceSpec | None
    language: str | None = None
    aliases: tuple[str, ...] = ()
    cues: frozenset[int] = frozenset()
    emotion: emo.EmotionSpec | None = None
    speed_bounds: tuple[float, float] | None = None
    gain_db: float = 0.0
    pan: float = 0.0
    lines: dict[str, int] = field(default_factory=dict, compare=False)   # field -> line in the cast file
    qa_other_voice: bool = False        # qa.other_voice: --qa retry may give a failed line another voice


@dataclass(frozen=True)
class CastFile:
    """A casting file, read and checked (:func:`read_cast_file`); ``lines`` maps fields to lines."""

    file: str
    engine: str = "kokoro"
    default_voice: VoiceSpec | str | None = None
    characters: dict[str, Character] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict, compare=False)
    engine_options: dict[str, Any] = field(default_factory=dict)
    default_emotion: emo.EmotionSpec | None = None
    voice_library: str | None = None
    speed_bounds: tuple[float, float] | None = None    # the project's fit bounds
    fill: bool | None = None

    def __post_init__(self):
        if isinstance(self.default_voice, str):
            object.__setattr__(self, "default_voice", VoiceSpec("builtin", self.default_voice.strip(),
                                                                None, "default_voice"))

    def voices(self) -> dict[str, VoiceSpec | None]:
        """Every character's voice as written, and the default voice under ``""``."""
        out: dict[str, VoiceSpec | None] = {c.name: c.voice for c in self.characters.values()}
        if isinstance(self.default_voice, VoiceSpec):
            out[""] = self.default_voice
        return out

    def find(self, speaker: str) -> Character | None:
        key = speaker.strip().casefold()
        for ch in self.characters.values():
            if ch.name.casefold() == key or key in (a.casefold() for a in ch.aliases):
                return ch
        return None



# ---------------------------------------------------------------- small readers

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


def _line_of(node: Any, key: Any, default: int | None) -> int | None:
    return node.line(key) if isinstance(node, yamlfile.Mapping) and key in node else default


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _voice_spec(value: Any, base: Path, path: Path, line: int | None, where: str,
                problems: Problems) -> VoiceSpec | None:
    """``kokoro:jf_alpha`` | ``{ref: clip.wav}`` | ``{library: name}``."""
    if isinstance(value, str) and value.strip():
        return VoiceSpec("builtin", value.strip(), line, where)
    if isinstance(value, dict):
        keys = [k for k in value if k in ("ref", "library")]
        unknown = [k for k in value if k not in ("ref", "library")]
        for k in unknown:
            problems.add(path, _line_of(value, k, line), f"{where}.{k}", "unknown field; a voice is a built-in "
                         "voice name, {ref: clip.wav} or {library: name}")
        if len(keys) != 1:
            if not unknown:
                problems.add(path, line, where, "give exactly one of 'ref' (a clip) or 'library' (a library entry)")
            return None
        k = keys[0]
        v = value[k]
        kline = _line_of(value, k, line)
        if not isinstance(v, (str, int)) or not str(v).strip():
            problems.add(path, kline, f"{where}.{k}", "must be " + ("a clip path" if k == "ref" else "a voice name"))
            return None
        if k == "library":
            return VoiceSpec("library", str(v).strip(), kline, f"{where}.{k}")
        clip_path = Path(os.path.realpath(base / str(v).strip()))     # never raises, even on a link loop
        try:
            clip = refclip.read_clip(clip_path, refclip.VOICE_SECONDS, "reference clip")
        except refclip.ClipError as exc:
            problems.add(path, kline, f"{where}.{k}", str(exc))
            return None
        return VoiceSpec("ref", str(clip_path), kline, f"{where}.{k}", clip)
    problems.add(path, line, where, "must be a built-in voice such as 'kokoro:af_heart', {ref: clip.wav} "
                 "or {library: name}")
    return None


def _emotion(spec: yamlfile.Mapping, base: Path, path: Path, where: str, problems: Problems) -> emo.EmotionSpec | None:
    """The one emotion form a mapping gives (or None); ``alpha`` applies to ref and text."""
    line = next((spec.line(k) for k in emo.FORMS if k in spec), spec.start_line)
    emotion, _alpha, bad = emo.read_forms(spec, base, f"{path.name}:{line}")
    for key, message in bad:
        problems.add(path, spec.line(key), f"{where}.{key}", message)
    return emotion


def _speed_bounds(spec: yamlfile.Mapping, path: Path, where: str, problems: Problems,
                  outer: tuple[float, float]) -> tuple[float, float] | None:
    lo = hi = None
    line = None
    if "speed" in spec:
        line = spec.line("speed")
        v = spec["speed"]
        if isinstance(v, dict):
            bad = [k for k in v if k not in ("min", "max")]
            if bad:
                problems.add(path, _line_of(v, bad[0], line), f"{where}.speed.{bad[0]}", "unknown field; use min, max")
                return None
            lo, hi = v.get("min"), v.get("max")
        elif isinstance(v, list) and len(v) == 2:
            lo, hi = v
        else:
            problems.add(path, line, f"{where}.speed", "must be [min, max] or {min: .., max: ..}")
            return None
    for k in ("speed_min", "speed_max"):
        if k in spec:
            if "speed" in spec:
                problems.add(path, spec.line(k), f"{where}.{k}", "give either speed or speed_min/speed_max")
                return None
            line = spec.line(k)
            if k == "speed_min":
                lo = spec[k]
            else:
                hi = spec[k]
    if line is None:
        return None
    olo, ohi = outer
    lo = olo if lo is None else _number(lo)
    hi = ohi if hi is None else _number(hi)
    fld = f"{where}.speed"
    if lo is None or hi is None or lo <= 0:
        problems.add(path, line, fld, "speed bounds are positive numbers")
        return None
    if speed_bounds_problem(min(lo, 1.0), max(hi, 1.0)) is not None:
        problems.add(path, line, fld, speed_bounds_problem(min(lo, 1.0), max(hi, 1.0)))
        return None
    if lo > hi:
        problems.add(path, line, fld, f"min {lo:g} is above max {hi:g}")
        return None
    if lo < olo - 1e-9 or hi > ohi + 1e-9:
        problems.add(path, line, fld, f"[{lo:g}, {hi:g}] is outside the project's bounds [{olo:g}, {ohi:g}]; "
                                      "a character's bounds may only narrow them")
        return None
    return (float(lo), float(hi))




def _fit(data: yamlfile.Mapping, path: Path, problems: Problems) -> tuple[tuple[float, float] | None, bool | None]:
    """The project's fit bounds and fill (``fit:``), each None when not given."""
    fit = data.get("fit")
    if fit is None:
        return None, None
    if not isinstance(fit, dict):
        problems.add(path, data.line("fit"), "fit", "must be a mapping with speed_min, speed_max, fill")
        return None, None
    bounds, fill = None, None
    for k in fit:
        if k not in FIT_FIELDS:
            problems.add(path, fit.line(k), f"fit.{k}", f"unknown field; known: {', '.join(FIT_FIELDS)}")
    lo, hi = fit.get("speed_min", DEFAULT_SPEED_BOUNDS[0]), fit.get("speed_max", DEFAULT_SPEED_BOUNDS[1])
    lo_n, hi_n = _number(lo), _number(hi)
    problem = speed_bounds_problem(lo if lo_n is None else lo_n, hi if hi_n is None else hi_n)
    if problem is not None:
        lo_bad = speed_bounds_problem(lo if lo_n is None else lo_n, 1.0) is not None
        key = "speed_min" if "speed_min" in fit and (lo_bad or "speed_max" not in fit) else "speed_max"
        problems.add(path, fit.line(key), f"fit.{key}", problem)
    elif "speed_min" in fit or "speed_max" in fit:
        bounds = (lo_n, hi_n)
    if "fill" in fit:
        if not isinstance(fit["fill"], bool):
            problems.add(path, fit.line("fill"), "fit.fill", "must be true or false")
        else:
            fill = fit["fill"]
    return bounds, fill


def _top(data: yamlfile.Mapping, path: Path, problems: Problems) -> tuple[str, dict[str, Any]]:
    """Unknown fields, the version, the engine and its options."""
    for key in data:
        if key not in TOP_FIELDS:
            problems.add(path, data.line(key), str(key), f"unknown field; known: {', '.join(TOP_FIELDS)}")
    if "version" in data and data["version"] not in (1, "1"):
        problems.add(path, data.line("version"), "version", f"{data['version']!r}: this version reads casting files "
                                                             "of version 1")
    engine = data.get("engine", "kokoro")
    if not isinstance(engine, str) or not engine.strip():
        problems.add(path, data.line("engine"), "engine", "must be an engine name such as 'kokoro'")
        engine = "kokoro"
    options = data.get("engine_options", {}) or {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        problems.add(path, data.line("engine_options"), "engine_options", "must map option names to values")
        options = {}
    return engine.strip(), options


def _default_emotion(data: yamlfile.Mapping, base: Path, path: Path, problems: Problems) -> emo.EmotionSpec | None:
    if "default_emotion" not in data:
        return None
    sub = yamlfile.Mapping({"emotion": data["default_emotion"]}, start_line=data.line("default_emotion"))
    sub.key_lines["emotion"] = data.line("default_emotion")
    before = len(problems.items)
    emotion = _emotion(sub, base, path, "default_emotion", problems)
    for p in problems.items[before:]:
        if p.field == "default_emotion.emotion":
            p.field = "default_emotion"
    return emotion


def _voice_library(data: yamlfile.Mapping, base: Path, path: Path, problems: Problems) -> str | None:
    library = data.get("voice_library")
    if library is None:
        return None
    if not isinstance(library, str) or not library.strip():
        problems.add(path, data.line("voice_library"), "voice_library", "must be the path of a library file")
        return None
    return str((base / library.strip()).resolve())


def _character_voice(spec: yamlfile.Mapping, base: Path, path: Path, where: str,
                     problems: Problems) -> tuple[VoiceSpec | None, bool]:
    """The character's voice (``voice``, ``ref`` or ``library``) and whether one was given."""
    forms = [k for k in ("voice", "ref", "library") if k in spec]
    if len(forms) > 1:
        problems.add(path, spec.line(forms[1]), f"{where}.{forms[1]}",
                     f"give one voice: {forms[0]} and {forms[1]} are both set")
        return None, True
    if forms == ["voice"]:
        return _voice_spec(spec["voice"], base, path, spec.line("voice"), f"{where}.voice", problems), True
    if forms:
        sub = yamlfile.Mapping({forms[0]: spec[forms[0]]}, start_line=spec.line(forms[0]))
        sub.key_lines[forms[0]] = spec.line(forms[0])
        return _voice_spec(sub, base, path, spec.line(forms[0]), where, problems), True
    return None, False


def _aliases(spec: yamlfile.Mapping, path: Path, where: str, name: str, taken: dict[str, tuple[str, int]],
             problems: Problems) -> list[str]:
    aliases = spec.get("aliases", [])
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list) or not all(isinstance(a, (str, int)) for a in aliases):
        problems.add(path, spec.line("aliases"), f"{where}.aliases", "must be a list of names")
        aliases = []
    aliases = [str(a).strip() for a in aliases]
    for a in aliases:
        if a.casefold() in taken and taken[a.casefold()][0] != name:
            other, oline = taken[a.casefold()]
            problems.add(path, spec.line("aliases"), f"{where}.aliases", f"{a!r} already names {other!r} (line {oline})")
    return aliases


def _level(spec: yamlfile.Mapping, key: str, lo: float, hi: float, path: Path, where: str, message: str,
           problems: Problems) -> float:
    """A number field within [lo, hi] (``gain_db``, ``pan``); 0 when absent or wrong."""
    if key not in spec:
        return 0.0
    x = _number(spec[key])
    if x is None or not lo <= x <= hi:
        problems.add(path, spec.line(key), f"{where}.{key}", message)
        return 0.0
    return x


def _qa(spec: yamlfile.Mapping, path: Path, where: str, problems: Problems) -> bool:
    """A character's ``qa`` mapping: ``other_voice`` (true/false, default false)."""
    if "qa" not in spec:
        return False
    node = spec["qa"]
    if not isinstance(node, dict):
        problems.add(path, spec.line("qa"), f"{where}.qa", "must be a mapping, like 'qa: {other_voice: true}'")
        return False
    for key in node:
        if key not in QA_FIELDS:
            problems.add(path, _line_of(node, key, spec.line("qa")), f"{where}.qa.{key}",
                         f"unknown field; known: {', '.join(QA_FIELDS)}")
    value = node.get("other_voice", False)
    if not isinstance(value, bool):
        problems.add(path, _line_of(node, "other_voice", spec.line("qa")), f"{where}.qa.other_voice",
                     f"must be true or false (got {value!r})")
        return False
    return value


def _character(name: str, spec: Any, line: int, base: Path, path: Path, outer: tuple[float, float],
               taken: dict[str, tuple[str, int]], problems: Problems) -> Character | None:
    """One entry of ``characters``."""
    where = f"characters.{name}"
    if isinstance(spec, str):
        spec = yamlfile.Mapping({"voice": spec}, start_line=line)
        spec.key_lines["voice"] = line
    if not isinstance(spec, dict):
        problems.add(path, line, where, "must be a voice name or a mapping with 'voice'")
        return None
    for key in spec:
        if key not in CHARACTER_FIELDS:
            problems.add(path, spec.line(key), f"{where}.{key}", f"unknown field; known: {', '.join(CHARACTER_FIELDS)}")
    # no voice: the cast's default_voice, else the engine's native voice for the character's
    # language (lines.casting); an engine without voices of its own refuses it there
    voice, _ = _character_voice(spec, base, path, where, problems)
    language = spec.get("language")
    if language is not None and language not in LANGUAGES:
        problems.add(path, spec.line("language"), f"{where}.language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
        language = None
    aliases = _aliases(spec, path, where, name, taken, problems)
    cues = _cue_numbers(spec["cues"], path, spec.line("cues"), problems, name) if "cues" in spec else frozenset()
    emotion = _emotion(spec, base, path, where, problems)
    bounds = _speed_bounds(spec, path, where, problems, outer)
    gain = _level(spec, "gain_db", *GAIN_DB_RANGE, path, where,
                  f"must be a number of dB between {GAIN_DB_RANGE[0]:g} and {GAIN_DB_RANGE[1]:g}", problems)
    pan = _level(spec, "pan", -1.0, 1.0, path, where, "must be between -1 (left) and 1 (right)", problems)
    taken[name.casefold()] = (name, line)
    for a in aliases:
        taken.setdefault(a.casefold(), (name, line))
    other_voice = _qa(spec, path, where, problems)
    lines = {k: spec.line(k) for k in spec} | {"name": line}
    return Character(name, voice, language, tuple(aliases), cues, emotion, bounds, gain, pan, lines, other_voice)


def read_cast_file(path: str | Path) -> CastFile:
    """Read and check a casting file; every problem is reported with its line and field."""
    path = Path(path)
    text, _ = read_text(path)
    data = yamlfile.load(path, text)
    base = path.resolve().parent
    problems = Problems()
    if data is None:
        raise DubError.at(path, None, None, "the casting file is empty; it needs at least 'characters' or 'default_voice'")
    if not isinstance(data, dict):
        raise DubError.at(path, 1, None, "a casting file is a mapping with 'characters' (and optionally 'default_voice', 'engine')")
    engine, options = _top(data, path, problems)
    fit_bounds, fill = _fit(data, path, problems)
    default_voice = None
    if "default_voice" in data:
        default_voice = _voice_spec(data["default_voice"], base, path, data.line("default_voice"), "default_voice",
                                    problems)
    default_emotion = _default_emotion(data, base, path, problems)
    library = _voice_library(data, base, path, problems)

    chars_node = data.get("characters", {})
    if chars_node is None:
        chars_node = {}
    if not isinstance(chars_node, dict):
        problems.add(path, data.line("characters"), "characters", "must map character names to voices")
        chars_node = {}
    characters: dict[str, Character] = {}
    taken: dict[str, tuple[str, int]] = {}        # casefolded name or alias -> (character, line)
    for name, spec in chars_node.items():
        line = chars_node.line(name)
        name = str(name).strip()
        if not name:
            problems.add(path, line, "characters", "a character needs a name")
            continue
        if name.casefold() in taken:
            other, oline = taken[name.casefold()]
            problems.add(path, line, f"characters.{name}", f"duplicate character name: {other!r} (line {oline}) already has it")
            continue
        ch = _character(name, spec, line, base, path, fit_bounds or DEFAULT_SPEED_BOUNDS, taken, problems)
        if ch is not None:
            characters[name] = ch
    if not characters and default_voice is None and not problems.items:
        problems.add(path, None, "characters", "no characters and no default_voice: nobody could speak")
    problems.raise_if_any()
    lines = {k: data.line(k) for k in data}
    if isinstance(options, yamlfile.Mapping):     # engine_options.<key> -> its line, for engines' errors
        lines.update({f"engine_options.{k}": options.line(k) for k in options})
    if isinstance(data.get("fit"), yamlfile.Mapping):   # fit.<key> -> its line, for the plan's errors
        lines.update({f"fit.{k}": data["fit"].line(k) for k in data["fit"]})
    return CastFile(str(path), engine, default_voice, characters, lines, dict(options), default_emotion, library,
                    fit_bounds, fill)
