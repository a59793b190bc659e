"""``indextts-dub batch jobs.yaml``: many episodes, one loaded engine.

The file (paths relative to it)::

    defaults:                      # optional: what every episode has unless it says otherwise
      cast: cast.yaml
      fill: true
    episodes:
      - input: ep1.srt             # subtitles or an editor timeline
        video: ep1.mp4             # optional
        output: out/ep1
      - folder: season2/           # every subtitle file in it is an episode: output/<name>,
        output: out/season2        # with <name>.mp4 (or .mov, .mkv) beside it as its video

Options an episode (or ``defaults``) may set: ``cast``, ``video``, ``engine``, ``voice``,
``fill``, ``speed_min``, ``speed_max``, ``planner``, ``loudness``, ``format``, ``encoding``,
``engine_options``. Episodes run one after another in this process (the engine loads once), or
as jobs on the queue (``--broker``), each the same bytes as ``indextts-dub dub`` would write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..deliver.mix import MixOptions
from ..errors import DubError, Problems
from ..lines import yamlfile
from ..pipeline import DubOptions

SUBTITLES = (".srt", ".ass", ".ssa", ".vtt")
VIDEOS = (".mp4", ".mov", ".mkv")
OPTION_FIELDS = ("engine", "voice", "fill", "speed_min", "speed_max", "planner", "loudness", "format", "encoding",
                 "engine_options")
EPISODE_FIELDS = ("input", "folder", "cast", "video", "output") + OPTION_FIELDS


@dataclass(frozen=True)
class Episode:
    input: Path
    output: Path
    cast: Path | None = None
    video: Path | None = None
    options: DubOptions = field(default_factory=DubOptions)
    line: int = 0                # the entry's line in the batch file
    where: str = ""              # jobs.yaml:LINE, for messages


def options(spec: dict[str, Any], path: Path | None, line_of, where: str, problems: Problems) -> DubOptions:
    """The run options an episode (or a job's ``options``) sets; problems are added to ``problems``."""
    kw: dict[str, Any] = {}
    for key in ("engine", "voice", "encoding", "planner"):
        if key in spec:
            if not isinstance(spec[key], str):
                problems.add(path, line_of(key), f"{where}.{key}", "must be text")
            else:
                kw[key] = spec[key]
    if "fill" in spec:
        if not isinstance(spec["fill"], bool):
            problems.add(path, line_of("fill"), f"{where}.fill", "must be true or false")
        else:
            kw["fill"] = spec["fill"]
    lo, hi = spec.get("speed_min"), spec.get("speed_max")
    for key, v in (("speed_min", lo), ("speed_max", hi)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            problems.add(path, line_of(key), f"{where}.{key}", "must be a number")
            return DubOptions()
    if lo is not None or hi is not None:
        kw["speed_bounds"] = (float(lo if lo is not None else 0.75), float(hi if hi is not None else 1.25))
    mix: dict[str, Any] = {}
    if "loudness" in spec:
        v = spec["loudness"]
        if v == "off" or v is False:
            mix["loudness"] = None
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            mix["loudness"] = float(v)
        else:
            problems.add(path, line_of("loudness"), f"{where}.loudness", "must be a number of LUFS or 'off'")
    if "format" in spec:
        mix["format"] = spec["format"]
    if mix:
        kw["mix_options"] = MixOptions(**mix)
    if "engine_options" in spec:
        if not isinstance(spec["engine_options"], dict):
            problems.add(path, line_of("engine_options"), f"{where}.engine_options", "must be a mapping")
        else:
            kw["engine_options"] = dict(spec["engine_options"])
    opts = DubOptions(**kw)
    try:
        opts.check(None)
    except DubError as exc:
        for p in exc.problems:
            problems.add(path, line_of(p.field.lstrip("-").replace("-", "_") if p.field else None), p.field, p.message)
    return opts


def read(jobs: str | Path) -> list[Episode]:
    """The episodes of a batch file; every problem, with its line and field, in one :class:`DubError`."""
    path = Path(jobs)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DubError.at(path, None, None, f"cannot read: {exc.strerror or exc}") from None
    data = yamlfile.load(path, text)
    if not isinstance(data, yamlfile.Mapping) or not isinstance(data.get("episodes"), list):
        raise DubError.at(path, getattr(data, "start_line", 1) or 1, "episodes", "the file needs a list 'episodes:'")
    base = path.resolve().parent
    problems = Problems()
    defaults = data.get("defaults") or yamlfile.Mapping()
    if not isinstance(defaults, dict):
        problems.add(path, data.line("defaults"), "defaults", "must be a mapping")
        defaults = yamlfile.Mapping()
    for key in set(data) - {"episodes", "defaults"}:
        problems.add(path, data.line(key), key, "unknown field (a batch file has 'defaults' and 'episodes')")
    for key in set(defaults) - set(EPISODE_FIELDS) - {"folder", "input", "output"}:
        problems.add(path, defaults.line(key), f"defaults.{key}", f"unknown field (one of {', '.join(EPISODE_FIELDS)})")
    out: list[Episode] = []
    episodes = data["episodes"]
    for i, spec in enumerate(episodes):
        line = episodes.item_lines[i]
        where = f"episodes[{i}]"
        if not isinstance(spec, yamlfile.Mapping):
            problems.add(path, line, where, "must be a mapping with 'input' (or 'folder') and 'output'")
            continue
        merged = {**{k: v for k, v in defaults.items() if k not in ("input", "folder", "output")}, **spec}

        def line_of(key, spec=spec, line=line):
            if key in spec:
                return spec.line(key)
            return defaults.line(key) if key in defaults else line

        for key in set(spec) - set(EPISODE_FIELDS):
            problems.add(path, spec.line(key), f"{where}.{key}", f"unknown field (one of {', '.join(EPISODE_FIELDS)})")
        if ("input" in spec) == ("folder" in spec):
            problems.add(path, line, where, "give exactly one of 'input' (a file) or 'folder' (a folder of episodes)")
            continue
        if not isinstance(spec.get("output"), str):
            problems.add(path, line_of("output"), f"{where}.output", "needs an output folder")
            continue
        files: dict[str, Path | None] = {}
        for key in ("cast", "video"):
            v = merged.get(key)
            if v is None:
                files[key] = None
            elif not isinstance(v, str) or not (base / v).is_file():
                problems.add(path, line_of(key), f"{where}.{key}", f"file not found: {v}")
                files[key] = None
            else:
                files[key] = base / v
        opts = options(merged, path, line_of, where, problems)
        output = base / spec["output"]
        if "input" in spec:
            src = base / str(spec["input"])
            if not src.is_file():
                problems.add(path, spec.line("input"), f"{where}.input", f"file not found: {spec['input']}")
                continue
            out.append(Episode(src, output, files["cast"], files["video"], opts, line, f"{path}:{line}"))
            continue
        folder = base / str(spec["folder"])
        subs = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUBTITLES) if folder.is_dir() else []
        if not subs:
            problems.add(path, spec.line("folder"), f"{where}.folder",
                         f"no subtitle file ({', '.join(SUBTITLES)}) in {spec['folder']}")
            continue
        for sub in subs:
            video = files["video"] or next((v for ext in VIDEOS if (v := sub.with_suffix(ext)).is_file()), None)
            out.append(Episode(sub, output / sub.stem, files["cast"], video, opts, line, f"{path}:{line} ({sub.name})"))
    problems.raise_if_any()
    seen: dict[Path, str] = {}
    for ep in out:
        key = ep.output.resolve()
        if key in seen:
            problems.add(path, ep.line, "output",
                         f"the same output folder as {seen[key]}")
        seen[key] = ep.where
    problems.raise_if_any()
    return out
