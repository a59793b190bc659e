"""Engines are found through the entry point group ``indextts_dub.engines`` (as OpenTimelineIO
finds its adapters); the package's own engines are registered there by its ``pyproject.toml``
like any plugin.

A third-party engine registers in its own ``pyproject.toml``::

    [project.entry-points."indextts_dub.engines"]
    myengine = "my_package.engine:MyEngine"
"""
from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .base import Engine, EngineConfigError, EngineError, EngineInfo

GROUP = "indextts_dub.engines"


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Names of every engine that can be loaded here."""
    return sorted(_entry_points())


def engine_class(name: str) -> type[Engine]:
    eps = _entry_points()
    if name not in eps:
        raise EngineError(f"unknown engine {name!r}; installed engines: {', '.join(available()) or '(none)'}")
    try:
        cls = eps[name].load()
    except Exception as exc:        # a broken plugin: say which, never a traceback
        raise EngineError(f"engine {name} cannot be imported ({type(exc).__name__}: {exc})") from None
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise EngineError(f"engine {name} ({eps[name].value}) does not derive from indextts_dub.engines.Engine")
    return cls


def describe(name: str, options: dict[str, Any] | None = None) -> EngineInfo:
    """The engine's capabilities and voices without loading its model."""
    return engine_class(name).describe(**(options or {}))


def resolve_paths(name: str, options: dict[str, Any], base: str | Path) -> dict[str, Any]:
    """``options`` with the engine's ``path_options`` made absolute against ``base``."""
    out = dict(options)
    for key in engine_class(name).path_options:
        value = out.get(key)
        if isinstance(value, str) and value.strip():
            p = Path(value.strip()).expanduser()
            out[key] = str(p if p.is_absolute() else (Path(base) / p).resolve())
    return out


def check(name: str, options: dict[str, Any]) -> None:
    """Check an engine's options and files before anything loads; raises
    :class:`EngineConfigError` listing every problem."""
    engine_class(name).check(**options)


_loaded: dict[tuple, Engine] = {}


def load(name: str, **options: Any) -> Engine:
    """Load an engine once per process and options (checked first); later calls return the same
    object. A constructor that fails other than with :class:`EngineError` is reported as one."""
    key = (name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _loaded:
        cls = engine_class(name)
        cls.check(**options)
        try:
            _loaded[key] = cls(**options)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"engine {name} failed to load: {type(exc).__name__}: {exc}") from None
    return _loaded[key]


__all__ = ["GROUP", "EngineConfigError", "available", "check", "describe", "engine_class", "load", "resolve_paths"]
