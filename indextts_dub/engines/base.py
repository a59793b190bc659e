"""The engine contract: what an engine declares, what it is asked, what it returns.

An engine is a class deriving from :class:`Engine`, registered under the entry point group
``indextts_dub.engines`` (:mod:`.registry`). Everything it may be asked for is declared on
:class:`Engine` with a default, so a plugin overrides only what it does:

=====================  ==================================================================
``describe(**opts)``   required, a classmethod: an :class:`EngineInfo`, cheap (no model load)
``synthesize(req)``    required: mono float32 audio in [-1, 1] at ``info.sample_rate``
``synthesize_many``    optional: several requests at once, takes in the same order (default: one
                       by one); the run hands it one voice's natural takes at a time
``__init__(**opts)``   loads the model; its keyword parameters are the engine's options
``check(**opts)``      options and files checked before anything loads; the default refuses
                       options the constructor does not take (:class:`EngineConfigError`)
``path_options``       options that are paths, resolved against the casting file's folder
``run_options``        options the run supplies when the user does not: ``voice_library``
``notes``              how the loaded engine renders, for the report (a list of strings)
=====================  ==================================================================

Exact-length rendering is a capability (``EngineInfo.exact_length``): such an engine gets
``Request.target_samples`` (and ``natural_samples`` when known) and returns speech that long.

An engine imports only this contract and the package's shared modules (:mod:`indextts_dub.audio`,
:mod:`indextts_dub.text`, :mod:`.refclip`, :mod:`.condstore`), as a third-party engine would.
"""
from __future__ import annotations

import inspect
import types
import typing
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

# the emotion vector's order: IndexTTS2's emo_vector
EMOTIONS = ("happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm")
VECTOR_SUM_CAP = 0.8      # IndexTTS2's web UI caps a vector's sum here (larger sums hurt voice similarity)


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers by name."""

    id: str
    languages: tuple[str, ...] = ()
    gender: str | None = None
    description: str = ""


@dataclass(frozen=True)
class EngineInfo:
    """What an engine can do, known without loading its model."""

    name: str
    version: str
    sample_rate: int                    # Hz of the audio synthesize() returns
    languages: tuple[str, ...]
    voices: tuple[VoiceInfo, ...]
    native_speed: bool                  # honours Request.speed
    speed_range: tuple[float, float] = (0.75, 1.25)
    exact_length: bool = False          # honours Request.target_samples (speech length, edge silence trimmed)
    # residual stretch a take of this engine tolerates without audible harm: a timing-only edit
    # re-uses a stored take whose length is within this share of the new target
    speed_tolerance: float = 0.07
    emotion: bool = False               # honours Request.emotion
    reference_voice: bool = False       # takes a reference clip as a voice (Request.reference)
    voice_blends: bool = False          # voice ids may mix styles: "0.6*a+0.4*b" (see parse_blend)
    model_id: str = ""                  # checksum or name of the weights, for caches
    deterministic: bool = False         # ignores Request.seed: the same request, the same audio

    def voice_ids(self) -> list[str]:
        return [v.id for v in self.voices]


@dataclass(frozen=True)
class Emotion:
    """How a line should sound, in one of IndexTTS2's forms (a preset arrives as a vector)."""

    kind: str                                  # "preset", "vector", "ref" or "text"
    vector: tuple[float, ...] | None = None    # preset/vector: 8 values in EMOTIONS order, as written
    presets: tuple[tuple[str, float], ...] = ()   # preset: the names and intensities given
    alpha: float = 1.0                         # ref/text: how strongly to apply it, 0-1
    clip: str | None = None                    # ref: a clip showing the emotion (mono audio file)
    clip_hash: str | None = None               # ref: that clip's content hash (refclip.content_hash)
    text: str | None = None                    # text: a sentence describing it
    label: str = ""                            # short human form, for messages

    def capped_vector(self) -> tuple[tuple[float, ...] | None, bool]:
        """The vector with its sum capped at :data:`VECTOR_SUM_CAP`, and whether the cap applied."""
        if self.vector is None:
            return None, False
        total = sum(self.vector)
        if total <= VECTOR_SUM_CAP + 1e-9:
            return self.vector, False
        scale = VECTOR_SUM_CAP / total
        return tuple(round(v * scale, 6) for v in self.vector), True


@dataclass(frozen=True)
class Request:
    """One line to speak. ``text`` is already normalised for speech (:mod:`indextts_dub.text`)."""

    text: str
    voice: str                          # an id from EngineInfo.voices (or a blend, with voice_blends)
    language: str = "en"                # "en" or "zh"
    speed: float = 1.0                  # >1 faster; engines without native speed ignore it
    target_samples: int | None = None   # exact-length engines: the speech length, at the engine's rate
    natural_samples: int | None = None  # ... and the natural take's, when the caller has it (a cached take)
    emotion: Emotion | None = None      # None: neutral; sent whatever the engine can do (EngineInfo.emotion)
    # engines with reference_voice: a checked reference clip (mono WAV) and its content hash;
    # engines cache their conditioning by the hash, never the path
    reference: str | None = None
    reference_hash: str | None = None
    seed: int = 0


class EngineError(RuntimeError):
    """An engine cannot load or run; the message says what to install or fix."""


class EngineConfigError(EngineError):
    """An engine's configuration is unusable: ``problems`` lists ``(option, message)`` pairs,
    every one at once (``option`` is None for what no single option causes)."""

    def __init__(self, engine: str, problems: list[tuple[str | None, str]]):
        self.engine = engine
        self.problems = list(problems)
        super().__init__("\n".join(m for _, m in self.problems))


def _fits(value: Any, hint: Any) -> bool:
    """Whether an option's value fits its annotation (plain types, Optional, unions; anything
    else is taken as fitting)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or (hasattr(types, "UnionType") and isinstance(hint, types.UnionType)):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True


def _type_words(hint: Any) -> str:
    args = [h for h in typing.get_args(hint) if h is not type(None)] or [hint]
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}
    return " or ".join(words.get(h, getattr(h, "__name__", str(h))) for h in args)


class Engine:
    """The base of every engine (see the module docstring): the required members raise, the
    optional ones have their defaults here."""

    name: ClassVar[str] = ""
    path_options: ClassVar[tuple[str, ...]] = ()
    run_options: ClassVar[tuple[str, ...]] = ()
    info: EngineInfo

    @classmethod
    def describe(cls, **options: Any) -> EngineInfo:
        """Capabilities and voices, without loading the model; options may change the version."""
        raise NotImplementedError(f"{cls.__name__} must define describe()")

    @classmethod
    def check(cls, **options: Any) -> None:
        """Raise :class:`EngineConfigError` listing every problem with ``options`` (and the files
        they name) before anything loads. By default: options the constructor does not take."""
        params = inspect.signature(cls.__init__).parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in params):
            return
        name = cls.name or cls.__name__
        known = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
        problems = [(k, f"{k}: unknown option of engine {name}; known: {', '.join(known) or '(none)'}")
                    for k in options if k not in known]
        try:
            hints = typing.get_type_hints(cls.__init__)
        except Exception:  # an annotation that does not resolve: no type checks
            hints = {}
        for k, value in options.items():
            if k in known and k in hints and not _fits(value, hints[k]):
                problems.append((k, f"{k}: {value!r} is not {_type_words(hints[k])} (engine {name})"))
        if problems:
            raise EngineConfigError(name, problems)

    def synthesize(self, request: Request) -> np.ndarray:
        """Mono float32 audio in [-1, 1] at ``info.sample_rate``."""
        raise NotImplementedError(f"{type(self).__name__} must define synthesize()")

    def synthesize_many(self, requests: Sequence[Request]) -> list[np.ndarray]:
        """Several requests at once: one take per request, in the order given. The run hands an
        engine one voice's natural takes at a time (the same reference clip or voice id), so an
        engine that batches on a GPU, or keeps a voice's conditioning hot, overrides this; the
        default speaks them one by one through :meth:`synthesize`."""
        return [self.synthesize(r) for r in requests]

    # how this engine renders, for the report (which model, device, exact-length path): a loaded
    # engine may set its own list
    notes: list[str] | tuple[str, ...] = ()


# ---------------------------------------------------------------- voice ids

_BLEND_PART = re.compile(r"^\s*(?:(\d*\.?\d+)\s*\*\s*)?([A-Za-z0-9_\-]+)\s*$")


def parse_blend(voice: str) -> list[tuple[float, str]] | None:
    """A voice id as weighted parts: ``jf_alpha`` -> ``[(1.0, "jf_alpha")]``,
    ``0.6*jf_alpha+0.4*jm_kumo`` -> ``[(0.6, "jf_alpha"), (0.4, "jm_kumo")]``; None when it is
    not of that form. Weights are as written (not normalised)."""
    parts = []
    for part in voice.split("+"):
        m = _BLEND_PART.match(part)
        if not m:
            return None
        parts.append((float(m.group(1) or 1.0), m.group(2)))
    return parts


def blend_id(parts: list[tuple[float, str]]) -> str:
    """A canonical blend voice id: ``0.6*jf_alpha+0.4*jm_kumo`` (weights rounded to 0.01, largest first)."""
    parts = [(round(w, 2), v) for w, v in parts if round(w, 2) > 0]
    parts.sort(key=lambda p: (-p[0], p[1]))
    if len(parts) == 1:
        return parts[0][1]
    return "+".join(f"{w:g}*{v}" for w, v in parts)
