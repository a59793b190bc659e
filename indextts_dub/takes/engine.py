"""Engine setup for a run: its options, checked before anything loads, and its loader.

Options: the casting file's ``engine_options`` and the command
line's ``--engine-option KEY=VALUE``, paths made absolute, checked before anything loads.

* Cast options apply when the run uses the cast's engine; their path options (an engine's
  ``path_options``) resolve against the casting file's folder, command-line ones against the
  working folder; the command line wins.
* Options the run supplies (an engine's ``run_options``): ``voice_library``, the library the
  run's voices come from (engines that keep conditioning there, IndexTTS2).
* The engine's ``check`` runs here: a missing checkpoint stops the run before a cue is spoken,
  with one message naming the casting file, the line and the field it came from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .. import engines
from ..errors import DubError, Problem
from ..lines import CastFile

CLI_FIELD = "--engine-option"


def prepare(engine_name: str, the_cast: CastFile, cli_options: dict[str, Any] | None,
            library: str | Path | None, from_flag: bool = False) -> tuple[engines.EngineInfo, dict[str, Any]]:
    """The engine's description and the options it will load with; raises :class:`DubError`
    naming where the engine was chosen (``--engine`` when ``from_flag``, else the cast's line)."""
    def blame(message: str) -> DubError:
        if from_flag:
            return DubError.at(None, None, "--engine", message)
        return DubError.at(the_cast.file, the_cast.lines.get("engine"), "engine", message)

    cast_opts = the_cast.engine_options if engine_name == the_cast.engine else {}
    from_cast = bool(cast_opts) and Path(the_cast.file).exists()
    base = Path(the_cast.file).resolve().parent if from_cast else Path.cwd()
    try:
        options = engines.resolve_paths(engine_name, cast_opts, base)
        options.update(engines.resolve_paths(engine_name, cli_options or {}, Path.cwd()))
        cls = engines.engine_class(engine_name)
    except engines.EngineError as exc:
        raise blame(str(exc)) from None
    if "voice_library" in cls.run_options and "voice_library" not in options:
        from ..voices.library import default_path

        lib = library if library is not None else (the_cast.voice_library or default_path())
        options["voice_library"] = str(Path(lib).expanduser().resolve())
    try:
        engines.check(engine_name, options)
        info = engines.describe(engine_name, options)
    except engines.EngineConfigError as exc:
        problems = []
        for key, message in exc.problems:
            if key is not None and key in (cli_options or {}):
                problems.append(Problem(None, None, f"{CLI_FIELD} {key}", message))
            elif key is not None and key in cast_opts:
                problems.append(Problem(the_cast.file, the_cast.lines.get(f"engine_options.{key}",
                                                                          the_cast.lines.get("engine_options")),
                                        f"engine_options.{key}", message))
            else:
                problems.extend(blame(message).problems)
        raise DubError(problems) from None
    except engines.EngineError as exc:
        raise blame(str(exc)) from None
    return info, options


def loader(engine_name: str, options: dict[str, Any], cast_file: CastFile) -> Callable[[], engines.Engine]:
    """A function that loads the engine (once per process and options) when a take needs it; an
    option the engine refuses is reported against the casting file's ``engine_options``."""
    def load() -> engines.Engine:
        try:
            return engines.load(engine_name, **options)
        except engines.EngineConfigError as exc:
            raise DubError.at(cast_file.file, cast_file.lines.get("engine_options"), "engine_options",
                              str(exc)) from None
    return load
