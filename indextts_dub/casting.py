"""Stage 2, lines: the casting file, and cues cast into :class:`Line` s.

A casting file (YAML, one per project) says who speaks with which voice and emotion::

    engine: kokoro                    # optional; the built-in engine by default
    engine_options: {threads: 2}      # optional; passed to the engine when it loads
    default_voice: kokoro:jf_tebukuro # optional; speakers the file does not list use it
    default_emotion: calm:0.3         # optional; lines without an emotion of their own
    voice_library: voices.sqlite      # optional; else --library / the user's data folder
    fit: {speed_min: 0.8, speed_max: 1.2, fill: false}   # optional; project fit bounds
    characters:
      Alice:
        voice: kokoro:jf_alpha        # a built-in voice (blends: kokoro:0.6*jf_alpha+0.4*jm_kumo)
        emotion: {happy: 0.6}         # preset with intensity
        language: en
        speed: [0.9, 1.15]            # narrower than the global bounds
        gain_db: -2
        pan: -0.3
        aliases: [爱丽丝]
        cues: [3, 7, "10-12"]
      Bob:
        voice: {ref: voices/bob.wav}  # a reference clip, 3-15 s
        emotion: [0, 0.6, 0, 0, 0, 0, 0.2, 0]   # 8 values: happy angry sad afraid disgusted melancholic surprised calm
      Carol:
        voice: {library: carol}       # a voice in the library
        emotion_ref: clips/carol_sad.wav
        emotion_alpha: 0.6
      Dave:
        voice: kokoro:jm_kumo
        emotion_text: 严厉且带有压迫感地命令
      王老师: kokoro:jm_kumo            # short form: just the voice

Paths resolve relative to the casting file. Every problem names the file, the line and
the field. Lines may override character, voice, emotion and speed inline (see
:mod:`inline`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import emotion as emo
from . import yamlfile
from .engines import refclip
from .cues import Cue
from .text.speech import join_display
from .engines import EngineInfo, blend_id, parse_blend
from .errors import DubError, Problems
from .text.encoding import read_text
from .text.speech import has_han, speakable, speech_text

DEFAULT_CHARACTER = "Narrator"
DEFAULT_SPEED_BOUNDS = (0.75, 1.25)
TOP_FIELDS = ("version", "engine", "engine_options", "default_voice", "default_emotion", "voice_library", "fit",
              "characters")
CHARACTER_FIELDS = ("voice", "ref", "library", "emotion", "emotion_ref", "emotion_alpha", "alpha", "emotion_text",
                    "language", "speed", "speed_min", "speed_max", "gain_db", "pan", "aliases", "cues")
FIT_FIELDS = ("speed_min", "speed_max", "fill")
LANGUAGES = ("en", "zh")
GAIN_DB_RANGE = (-40.0, 12.0)


@dataclass(frozen=True)
class VoiceSpec:
    """A voice as the casting file gives it: ``builtin`` (an engine voice id, maybe
    ``engine:``-prefixed), ``ref`` (a checked clip) or ``library`` (an entry's name)."""

    kind: str
    value: str                          # voice id / absolute clip path / library name
    line: int | None = None
    where: str = "voice"             # the field path in the casting file, for messages
    clip: refclip.RefClip | None = field(default=None, compare=False, repr=False)

    def label(self) -> str:
        return {"builtin": self.value, "ref": f"ref {self.value}", "library": f"library {self.value}"}[self.kind]


@dataclass(frozen=True)
class Character:
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


@dataclass(frozen=True)
class Cast:
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

    def find(self, speaker: str) -> Character | None:
        key = speaker.strip().casefold()
        for ch in self.characters.values():
            if ch.name.casefold() == key or key in (a.casefold() for a in ch.aliases):
                return ch
        return None


@dataclass(frozen=True)
class Line:
    """One cue, cast: who says it, with which voice and emotion, and what exactly the engine says."""

    index: int          # 1-based among spoken lines, in time order
    cue: Cue
    character: str
    voice: str          # the engine's voice id
    language: str
    text: str           # display text on one line
    speech: str         # normalised for the engine
    emotion: emo.EmotionSpec | None = None                 # None: neutral
    speed_bounds: tuple[float, float] | None = None    # this line's own bounds, narrower than the run's
    gain_db: float = 0.0
    pan: float = 0.0                                   # -1 left .. +1 right
    reference: str | None = None                       # reference clip path, for engines that clone
    reference_hash: str | None = None
    voice_source: str = ""                             # how the voice was chosen, for the report


@dataclass(frozen=True)
class Skipped:
    cue: Cue
    reason: str


@dataclass
class Casting:
    lines: list[Line]
    skipped: list[Skipped]
    warnings: list[str]
    voices: dict[str, dict] = field(default_factory=dict)   # character -> how its voice was resolved


# ---------------------------------------------------------------- reading the file

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
        clip_path = (base / str(v).strip()).resolve()
        try:
            clip = refclip.read_clip(clip_path, refclip.VOICE_SECONDS, "reference clip")
        except refclip.ClipError as exc:
            problems.add(path, kline, f"{where}.{k}", str(exc))
            return None
        return VoiceSpec("ref", str(clip_path), kline, f"{where}.{k}", clip)
    problems.add(path, line, where, "must be a built-in voice such as 'kokoro:jf_alpha', {ref: clip.wav} "
                 "or {library: name}")
    return None


def _emotion(spec: yamlfile.Mapping, base: Path, path: Path, where: str, problems: Problems,
             keys: tuple[str, str, str] = ("emotion", "emotion_ref", "emotion_text")) -> emo.EmotionSpec | None:
    """The one emotion form a mapping gives (or None); ``alpha`` applies to ref and text."""
    given = [k for k in keys if k in spec]
    alpha_key = next((k for k in ("emotion_alpha", "alpha") if k in spec), None)
    if len(given) > 1:
        problems.add(path, spec.line(given[1]), f"{where}.{given[1]}",
                     f"give one emotion form, not both {given[0]} and {given[1]}")
        return None
    alpha = None
    if alpha_key is not None:
        try:
            alpha = emo.check_alpha(spec[alpha_key])
        except emo.EmotionError as exc:
            problems.add(path, spec.line(alpha_key), f"{where}.{alpha_key}", str(exc))
            return None
    if not given:
        if alpha_key is not None:
            problems.add(path, spec.line(alpha_key), f"{where}.{alpha_key}",
                         "alpha scales emotion_ref or emotion_text; give one of them")
        return None
    k = given[0]
    line = spec.line(k)
    src = f"{path.name}:{line}"
    try:
        if k == keys[0]:
            if alpha_key is not None:
                problems.add(path, spec.line(alpha_key), f"{where}.{alpha_key}",
                             "alpha goes with emotion_ref or emotion_text; a preset or vector carries its own "
                             "intensities")
                return None
            return emo.parse_value(spec[k], src)
        if k == keys[2]:
            return emo.from_text(spec[k], alpha, src)
        value = spec[k]
        if not isinstance(value, str) or not value.strip():
            raise emo.EmotionError("must be the path of a clip that shows the emotion")
        clip_path = (base / value.strip()).resolve()
        try:
            clip = refclip.read_clip(clip_path, refclip.EMOTION_SECONDS, "emotion reference clip")
        except refclip.ClipError as exc:
            raise emo.EmotionError(str(exc)) from None
        return emo.from_ref(clip_path, clip.hash, alpha, src)
    except emo.EmotionError as exc:
        problems.add(path, line, f"{where}.{k}", str(exc))
        return None


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
    if lo > hi:
        problems.add(path, line, fld, f"min {lo:g} is above max {hi:g}")
        return None
    if lo < olo - 1e-9 or hi > ohi + 1e-9:
        problems.add(path, line, fld, f"[{lo:g}, {hi:g}] is outside the project's bounds [{olo:g}, {ohi:g}]; "
                                      "a character's bounds may only narrow them")
        return None
    return (float(lo), float(hi))


def load_cast(path: str | Path) -> Cast:
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

    # project fit bounds
    fit_bounds, fill = None, None
    fit = data.get("fit")
    if fit is not None:
        if not isinstance(fit, dict):
            problems.add(path, data.line("fit"), "fit", "must be a mapping with speed_min, speed_max, fill")
        else:
            for k in fit:
                if k not in FIT_FIELDS:
                    problems.add(path, fit.line(k), f"fit.{k}", f"unknown field; known: {', '.join(FIT_FIELDS)}")
            lo, hi = fit.get("speed_min", DEFAULT_SPEED_BOUNDS[0]), fit.get("speed_max", DEFAULT_SPEED_BOUNDS[1])
            lo_n, hi_n = _number(lo), _number(hi)
            if lo_n is None or hi_n is None or not 0 < lo_n <= 1 <= hi_n:
                problems.add(path, fit.line("speed_min") if "speed_min" in fit else fit.line("speed_max"),
                             "fit.speed_min" if "speed_min" in fit else "fit.speed_max",
                             f"bounds must satisfy 0 < speed_min <= 1 <= speed_max (got {lo!r}, {hi!r})")
            elif "speed_min" in fit or "speed_max" in fit:
                fit_bounds = (lo_n, hi_n)
            if "fill" in fit:
                if not isinstance(fit["fill"], bool):
                    problems.add(path, fit.line("fill"), "fit.fill", "must be true or false")
                else:
                    fill = fit["fill"]
    outer = fit_bounds or DEFAULT_SPEED_BOUNDS

    default_voice = None
    if "default_voice" in data:
        default_voice = _voice_spec(data["default_voice"], base, path, data.line("default_voice"), "default_voice",
                                    problems)
    default_emotion = None
    if "default_emotion" in data:
        sub = yamlfile.Mapping({"emotion": data["default_emotion"]}, start_line=data.line("default_emotion"))
        sub.key_lines["emotion"] = data.line("default_emotion")
        default_emotion = _emotion(sub, base, path, "default_emotion", problems)
        if problems.items and problems.items[-1].field == "default_emotion.emotion":
            problems.items[-1].field = "default_emotion"
    library = data.get("voice_library")
    if library is not None:
        if not isinstance(library, str) or not library.strip():
            problems.add(path, data.line("voice_library"), "voice_library", "must be the path of a library file")
            library = None
        else:
            library = str((base / library.strip()).resolve())

    chars_node = data.get("characters", {})
    characters: dict[str, Character] = {}
    taken: dict[str, tuple[str, int]] = {}        # casefolded name or alias -> (character, line)
    if chars_node is None:
        chars_node = {}
    if not isinstance(chars_node, dict):
        problems.add(path, data.line("characters"), "characters", "must map character names to voices")
        chars_node = {}
    for name, spec in chars_node.items():
        line = chars_node.line(name)
        name = str(name).strip()
        where = f"characters.{name}"
        if not name:
            problems.add(path, line, "characters", "a character needs a name")
            continue
        if name.casefold() in taken:
            other, oline = taken[name.casefold()]
            problems.add(path, line, where, f"duplicate character name: {other!r} (line {oline}) already has it")
            continue
        if isinstance(spec, str):
            spec = yamlfile.Mapping({"voice": spec}, start_line=line)
            spec.key_lines["voice"] = line
        if not isinstance(spec, dict):
            problems.add(path, line, where, "must be a voice name or a mapping with 'voice'")
            continue
        for key in spec:
            if key not in CHARACTER_FIELDS:
                problems.add(path, spec.line(key), f"{where}.{key}",
                             f"unknown field; known: {', '.join(CHARACTER_FIELDS)}")
        forms = [k for k in ("voice", "ref", "library") if k in spec]
        voice: VoiceSpec | None = None
        if len(forms) > 1:
            problems.add(path, spec.line(forms[1]), f"{where}.{forms[1]}",
                         f"give one voice: {forms[0]} and {forms[1]} are both set")
        elif forms == ["voice"]:
            voice = _voice_spec(spec["voice"], base, path, spec.line("voice"), f"{where}.voice", problems)
        elif forms:
            sub = yamlfile.Mapping({forms[0]: spec[forms[0]]}, start_line=spec.line(forms[0]))
            sub.key_lines[forms[0]] = spec.line(forms[0])
            voice = _voice_spec(sub, base, path, spec.line(forms[0]), where, problems)
        elif default_voice is None and "default_voice" not in data:
            problems.add(path, line, f"{where}.voice", "missing: give a voice such as 'kokoro:jf_alpha', "
                                                       "{ref: clip.wav} or {library: name}")
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
        aliases = [str(a).strip() for a in aliases]
        for a in aliases:
            if a.casefold() in taken and taken[a.casefold()][0] != name:
                other, oline = taken[a.casefold()]
                problems.add(path, spec.line("aliases"), f"{where}.aliases",
                             f"{a!r} already names {other!r} (line {oline})")
        cues = _cue_numbers(spec["cues"], path, spec.line("cues"), problems, name) if "cues" in spec else frozenset()
        emotion = _emotion(spec, base, path, where, problems)
        bounds = _speed_bounds(spec, path, where, problems, outer)
        gain = 0.0
        if "gain_db" in spec:
            g = _number(spec["gain_db"])
            if g is None or not GAIN_DB_RANGE[0] <= g <= GAIN_DB_RANGE[1]:
                problems.add(path, spec.line("gain_db"), f"{where}.gain_db",
                             f"must be a number of dB between {GAIN_DB_RANGE[0]:g} and {GAIN_DB_RANGE[1]:g}")
            else:
                gain = g
        pan = 0.0
        if "pan" in spec:
            p = _number(spec["pan"])
            if p is None or not -1.0 <= p <= 1.0:
                problems.add(path, spec.line("pan"), f"{where}.pan", "must be between -1 (left) and 1 (right)")
            else:
                pan = p
        lines = {k: spec.line(k) for k in spec} | {"name": line}
        taken[name.casefold()] = (name, line)
        for a in aliases:
            taken.setdefault(a.casefold(), (name, line))
        characters[name] = Character(name, voice, language, tuple(aliases), cues, emotion, bounds, gain, pan, lines)
    if not characters and default_voice is None and not problems.items:
        problems.add(path, None, "characters", "no characters and no default_voice: nobody could speak")
    problems.raise_if_any()
    lines = {k: data.line(k) for k in data}
    if isinstance(options, yamlfile.Mapping):     # engine_options.<key> -> its line, for engines' errors
        lines.update({f"engine_options.{k}": options.line(k) for k in options})
    return Cast(str(path), engine.strip(), default_voice, characters, lines,
                dict(options), default_emotion, library, fit_bounds, fill)


# ---------------------------------------------------------------- voices

def resolve_voice(voice: str, info: EngineInfo) -> str | None:
    """``kokoro:jf_alpha`` or ``jf_alpha`` -> ``jf_alpha`` when the engine has it, else None.

    Engines that blend voice styles (``info.voice_blends``) also take
    ``0.6*jf_alpha+0.4*jm_kumo``; weights are normalised to sum to 1."""
    engine, sep, name = voice.partition(":")
    if sep and engine != info.name:
        return None
    name = (name if sep else voice).strip()
    if name in info.voice_ids():
        return name
    if "+" in name or "*" in name:
        parts = parse_blend(name) if info.voice_blends else None
        if not parts or any(v not in info.voice_ids() for _, v in parts):
            return None
        total = sum(w for w, _ in parts)
        if total <= 0 or len({v for _, v in parts}) != len(parts):
            return None
        return blend_id([(w / total, v) for w, v in parts])
    return None


@dataclass(frozen=True)
class ResolvedVoice:
    """What a character's voice became for this engine (see :mod:`voicing`)."""

    voice: str                       # engine voice id
    source: str                      # human-readable: how it was chosen
    reference: str | None = None     # clip path for engines that clone
    reference_hash: str | None = None
    record: dict = field(default_factory=dict, compare=False)


def builtin_voices(the_cast: Cast, info: EngineInfo) -> dict[str, ResolvedVoice]:
    """Resolve built-in voices only (no clips, no library); ``voicing.resolve`` does all forms."""
    problems = Problems()
    out: dict[str, ResolvedVoice] = {}
    specs = [(ch.name, ch.voice, ch.lines.get("voice", ch.lines.get("name"))) for ch in the_cast.characters.values()]
    if isinstance(the_cast.default_voice, VoiceSpec):
        specs.append(("", the_cast.default_voice, the_cast.lines.get("default_voice")))
    for name, spec, line in specs:
        if spec is None:
            continue
        if spec.kind != "builtin":
            problems.add(the_cast.file, spec.line or line, spec.where,
                         f"{spec.label()} needs the voice library and embeddings; use voicing.resolve")
            continue
        v = resolve_voice(spec.value, info)
        if v is None:
            problems.add(the_cast.file, spec.line or line, spec.where if name else "default_voice",
                         unknown_voice_message(spec.value, info))
            continue
        out[name] = ResolvedVoice(v, f"{info.name}:{v}", record={"form": "builtin", "voice": f"{info.name}:{v}"})
    problems.raise_if_any()
    return out


def unknown_voice_message(voice: str, info: EngineInfo) -> str:
    return (f"unknown voice {voice!r} for engine {info.name}; available: "
            + ", ".join(f"{info.name}:{x}" for x in info.voice_ids())
            + ("; blends like kokoro:0.6*jf_alpha+0.4*jm_kumo" if info.voice_blends else ""))


# ---------------------------------------------------------------- casting cues

def cast(cues: list[Cue], the_cast: Cast, info: EngineInfo, allow_overlap: bool = False,
         voices: dict[str, ResolvedVoice] | None = None,
         bounds: tuple[float, float] | None = DEFAULT_SPEED_BOUNDS) -> Casting:
    """Give every cue a character, voice, emotion, language and speech text.

    ``voices`` maps character names ("" for the default voice) to resolved voices
    (:func:`voicing.resolve`); without it only built-in voices are allowed. Inline tags
    (``{emotion=angry:0.8}`` ...) override the character's defaults for one line.
    Cues with nothing to say are skipped and reported. Errors (collected, all at once):
    an unknown speaker with no default voice, a voice the engine lacks, a bad inline tag,
    one character's cues overlapping each other (unless ``allow_overlap``).
    """
    from . import inline

    if voices is None:
        voices = builtin_voices(the_cast, info)
    bounds = tuple(bounds or DEFAULT_SPEED_BOUNDS)
    problems = Problems()
    warnings: list[str] = []
    cast_file = the_cast.file
    default = voices.get("")
    for ch in the_cast.characters.values():
        if ch.name not in voices and ch.voice is None and default is None:
            problems.add(cast_file, ch.lines.get("name"), f"characters.{ch.name}.voice",
                         "missing, and the cast has no default_voice")
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
    chosen: dict[str, dict] = {}
    known = ", ".join(the_cast.characters) or "(none)"
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
            ch = the_cast.find(cue.speaker)
            name = cue.speaker
        if ch is None and cue.style:
            ch = the_cast.find(cue.style)
        if ch is not None:
            character = ch.name
            rv = voices.get(ch.name) or default
            language = ch.language
        elif default is not None:
            character, rv, language = name or DEFAULT_CHARACTER, default, None
            if name and name not in unknown:
                unknown[name] = cue
                warnings.append(f"{cue.file}:{cue.line}: speaker {name!r} is not in the cast; "
                                f"using the default voice {default.source}")
        else:
            field_ = "speaker" if name else "text"
            who = f"speaker {name!r} is not in the cast" if name else "this cue names no speaker"
            problems.add(cue.file, cue.line, field_,
                         f"{who} and the cast has no default_voice; known characters: {known}")
            continue
        assert rv is not None
        if tags.voice is not None:
            rv = ResolvedVoice(tags.voice, f"{info.name}:{tags.voice} (inline)",
                               record={"form": "builtin", "voice": f"{info.name}:{tags.voice}", "inline": True})
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
        emotion = inline.line_emotion(tags, ch.emotion if ch else None, the_cast.default_emotion)
        line_bounds = _line_bounds(tags, ch, bounds, cue, cast_file, problems)
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
            msg = (f"{ln.character}'s cue starts before their previous cue (line {prev.cue.line}) ends; "
                   "one voice cannot say two lines at once")
            if allow_overlap:
                warnings.append(f"{ln.cue.file}:{ln.cue.line}: start: {msg} (allowed: the earlier line is fitted to end first)")
            else:
                problems.add(ln.cue.file, ln.cue.line, "start", msg + "; fix the times or pass --allow-overlap")
        if prev is None or ln.cue.end > prev.cue.end:
            last[ln.character] = ln
    problems.raise_if_any()
    lines = [replace(ln, index=i) for i, ln in enumerate(lines, start=1)]
    with_emotion = [ln for ln in lines if ln.emotion is not None and not ln.emotion.is_neutral]
    if with_emotion and not info.emotion:
        warnings.append(f"engine {info.name} cannot render emotion: {len(with_emotion)} of {len(lines)} lines carry "
                        "one; it is kept in plan.json and the timeline (IndexTTS2 renders it)")
    records = {ln.character: chosen[ln.character] for ln in lines if ln.character in chosen}
    return Casting(lines, skipped, warnings, records)


def _line_bounds(tags, ch: Character | None, bounds: tuple[float, float], cue: Cue, cast_file: str,
                 problems: Problems) -> tuple[float, float] | None:
    lo, hi = bounds
    own = ch.speed_bounds if ch else None
    if own is not None:
        lo, hi = max(lo, own[0]), min(hi, own[1])
        if lo > hi:
            problems.add(cast_file, ch.lines.get("speed", ch.lines.get("speed_min", ch.lines.get("speed_max"))),
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
