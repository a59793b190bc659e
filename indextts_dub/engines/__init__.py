"""Engines are plugins: one small protocol, found through the entry point group
``indextts_dub.engines`` (as OpenTimelineIO finds its adapters).

A third-party engine registers in its own ``pyproject.toml``::

    [project.entry-points."indextts_dub.engines"]
    myengine = "my_package.engine:MyEngine"

``MyEngine.describe()`` must be cheap (no model load); ``MyEngine(**options)`` loads the
model; ``engine.synthesize(request)`` speaks one line.

Optional, for engines configured by files (IndexTTS2): ``describe(**options)`` may take the
options, ``check(**options)`` checks them before anything loads and raises
:class:`EngineConfigError` listing every problem at once, ``path_options`` names the options
that are paths (resolved against the casting file's folder), and ``notes`` (a list of
strings on the loaded engine) says how it rendered, for the report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import numpy as np

GROUP = "indextts_dub.engines"

# engines this package ships, so a source checkout works without an install
_BUILTIN = {"kokoro": "indextts_dub.engines.kokoro:KokoroEngine",
            "indextts2": "indextts_dub.engines.indextts2:IndexTTS2Engine"}


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
    voice_blends: bool = False          # voice ids may mix styles: "0.6*a+0.4*b"
    model_id: str = ""                  # checksum or name of the weights, for caches

    def voice_ids(self) -> list[str]:
        return [v.id for v in self.voices]


@dataclass(frozen=True)
class Request:
    """One line to speak. ``text`` is already normalised for speech (see ``textnorm``)."""

    text: str
    voice: str
    language: str = "en"
    speed: float = 1.0                  # >1 faster; engines without native speed ignore it
    target_samples: int | None = None   # at the engine's sample rate, for exact-length engines
    # emotion.Emotion.request(): {"kind": preset|vector|ref|text, "vector": 8 floats (sum capped
    # at 0.8), "alpha", "ref" (clip path), "ref_hash", "text", "presets", "label"}; None = neutral.
    # Passed whatever the engine can do; EngineInfo.emotion says whether it renders it.
    emotion: dict[str, Any] | None = None
    # a checked reference clip (mono WAV path) and its content hash, for engines with
    # reference_voice; engines cache their conditioning by the hash, never the path
    reference: str | None = None
    reference_hash: str | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    info: EngineInfo

    def synthesize(self, request: Request) -> np.ndarray:
        """Mono float32 audio in [-1, 1] at ``info.sample_rate``."""
        ...


class EngineError(RuntimeError):
    """An engine cannot load or run; the message says what to install or fix."""


class EngineConfigError(EngineError):
    """An engine's configuration is unusable: ``problems`` lists ``(option, message)`` pairs,
    every one at once (``option`` is None for what no single option causes)."""

    def __init__(self, engine: str, problems: list[tuple[str | None, str]]):
        self.engine = engine
        self.problems = list(problems)
        super().__init__("\n".join(m for _, m in self.problems))


def _entry_points() -> dict[str, Any]:
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    return found


def available() -> list[str]:
    """Names of every engine that can be loaded here."""
    return sorted(set(_BUILTIN) | set(_entry_points()))


def engine_class(name: str):
    eps = _entry_points()
    if name in eps:
        return eps[name].load()
    if name in _BUILTIN:
        import importlib

        module, _, attr = _BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise EngineError(f"unknown engine {name!r}; installed engines: {', '.join(available())}")


def _accepts_options(fn) -> bool:
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.VAR_KEYWORD, p.KEYWORD_ONLY) or p.default is not p.empty for p in params)


def describe(name: str, options: dict[str, Any] | None = None) -> EngineInfo:
    """The engine's capabilities and voices without loading its model (an engine whose
    ``describe`` takes options gets them: its version may depend on its checkpoints)."""
    cls = engine_class(name)
    if options and _accepts_options(cls.describe):
        return cls.describe(**options)
    return cls.describe()


def resolve_paths(name: str, options: dict[str, Any], base) -> dict[str, Any]:
    """``options`` with the engine's path options (``path_options``) made absolute against ``base``."""
    from pathlib import Path

    cls = engine_class(name)
    out = dict(options)
    for key in getattr(cls, "path_options", ()):
        value = out.get(key)
        if isinstance(value, str) and value.strip():
            p = Path(value.strip()).expanduser()
            out[key] = str(p if p.is_absolute() else (Path(base) / p).resolve())
    return out


def check(name: str, options: dict[str, Any]) -> None:
    """Check an engine's options and files before anything loads (engines with ``check``);
    raises :class:`EngineConfigError` listing every problem."""
    cls = engine_class(name)
    if hasattr(cls, "check"):
        cls.check(**options)


_loaded: dict[tuple, Engine] = {}


def load(name: str, **options: Any) -> Engine:
    """Load an engine once per process and options; later calls return the same object."""
    key = (name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _loaded:
        _loaded[key] = engine_class(name)(**options)
    return _loaded[key]
