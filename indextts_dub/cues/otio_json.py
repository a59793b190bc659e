"""OpenTimelineIO JSON as written: parse errors with their line, where each object sits, and
schemas newer than the installed OpenTimelineIO.

Timelines travel between tools with different OpenTimelineIO versions. A file written by a
newer release may hold a schema version this installation cannot read (Premiere and the
OTIO test data already carry ``Marker.3``, whose ``color`` is a ``Color.1`` object). Such
objects are read through a known, lossless-for-reading downgrade; the document as written is
kept, so outputs can carry the original objects back unchanged (the master timeline is the
input's JSON verbatim with the dub appended).

Every schema object's line in the file is known (the n-th ``"OTIO_SCHEMA"`` key in the text
is the n-th one met walking the parsed document in key order), so messages can say
``cut.otio:155: tracks.markers[2].name: ...``.
"""
from __future__ import annotations

import bisect
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import DubError

KEY = "indextts_dub"      # our namespace in OpenTimelineIO metadata: metadata["indextts_dub"]

JsonPath = tuple   # keys and indices from the document root


def path_text(path: JsonPath) -> str:
    """``("tracks", "children", 2, "markers", 0)`` -> ``tracks.children[2].markers[0]``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<timeline>"


@dataclass
class JsonDocument:
    """An OTIO JSON document: the parsed original, the line of every schema object, and what
    had to be downgraded for the installed OpenTimelineIO."""

    doc: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)
    downgraded: list[tuple[JsonPath, str, str]] = field(default_factory=list)   # (path, from, to)

    def line(self, path: JsonPath) -> int | None:
        """The line of the schema object at ``path`` or of the nearest one containing it."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


_SCHEMA_KEY = re.compile(r'"OTIO_SCHEMA"\s*:')


_Mark = object()   # stands for "the OTIO_SCHEMA key of the object at this path"


def _schema_paths(doc: Any) -> list[JsonPath]:
    """Paths of the schema objects in the order their ``OTIO_SCHEMA`` keys appear in the text."""
    out = []
    stack: list = [(doc, ())]
    while stack:
        node, path = stack.pop()
        if node is _Mark:
            out.append(path)
            continue
        if isinstance(node, dict):
            items = []
            for k, v in node.items():
                if k == "OTIO_SCHEMA":
                    items.append((_Mark, path))
                elif isinstance(v, (dict, list)):
                    items.append((v, path + (k,)))
            stack.extend(reversed(items))
        elif isinstance(node, list):
            stack.extend((node[i], path + (i,)) for i in range(len(node) - 1, -1, -1)
                         if isinstance(node[i], (dict, list)))
    return out


# OpenTimelineIO writes non-finite floats as NaN, Inf and -Inf (its reader takes Infinity too);
# Python's json reads NaN and Infinity only. Strings are matched first so they stay as they are.
_NONFINITE = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\w.])(-?)Inf(?!\w)')


def _infinity(m: re.Match) -> str:
    return m.group(0) if m.group(0).startswith('"') else m.group(1) + "Infinity"


def parse(text: str, file: str | Path) -> JsonDocument:
    """Parse OTIO JSON (NaN and Inf included, as OpenTimelineIO writes and reads them); a
    :class:`DubError` with the line and column of a syntax error."""
    try:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            if "Inf" not in text:
                raise
            doc = json.loads(_NONFINITE.sub(_infinity, text))    # same lines, so errors keep theirs
    except json.JSONDecodeError as exc:
        raise DubError.at(file, exc.lineno, "JSON", f"{exc.msg} (column {exc.colno}); the file is not valid JSON") from None
    if not isinstance(doc, dict) or "OTIO_SCHEMA" not in doc:
        raise DubError.at(file, 1, "OTIO_SCHEMA", "not an OpenTimelineIO file (no OTIO_SCHEMA at the top)")
    paths = _schema_paths(doc)
    newlines = [m.start() for m in re.finditer("\n", text)]
    positions = [m.start() for m in _SCHEMA_KEY.finditer(text)]
    lines: dict[JsonPath, int] = {}
    if len(positions) == len(paths):
        for p, pos in zip(paths, positions):
            lines[p] = bisect.bisect_right(newlines, pos) + 1
    return JsonDocument(doc, lines)


# ---------------------------------------------------------------- newer schemas

def _marker3_to_marker2(obj: dict) -> dict:
    """Marker.3 (OTIO after 0.18) holds ``color`` as a ``Color.1`` object and no ``comment``."""
    out = dict(obj)
    out["OTIO_SCHEMA"] = "Marker.2"
    color = obj.get("color")
    if isinstance(color, dict):
        out["color"] = str(color.get("name") or _nearest_color(color))
    elif color is None:
        out["color"] = "RED"
    out.setdefault("comment", "")
    return out


_NAMED = {"RED": (1, 0, 0), "GREEN": (0, 1, 0), "BLUE": (0, 0, 1), "CYAN": (0, 1, 1), "MAGENTA": (1, 0, 1),
          "YELLOW": (1, 1, 0), "ORANGE": (1, 0.5, 0), "PINK": (1, 0.75, 0.8), "PURPLE": (0.5, 0, 0.5),
          "BLACK": (0, 0, 0), "WHITE": (1, 1, 1)}


def _nearest_color(c: dict) -> str:
    rgb = tuple(float(c.get(k, 0.0)) for k in ("r", "g", "b"))
    return min(_NAMED, key=lambda n: sum((a - b) ** 2 for a, b in zip(_NAMED[n], rgb)))


DOWNGRADES: dict[tuple[str, int], tuple[int, Callable[[dict], dict]]] = {
    ("Marker", 3): (2, _marker3_to_marker2),
}


def known_versions() -> dict[str, int]:
    import opentimelineio as otio

    return dict(otio.core.type_version_map())


def for_installed_otio(jd: JsonDocument, file: str | Path) -> Any:
    """A copy of the document the installed OpenTimelineIO can read: newer schema versions go
    through a known downgrade; an unknown newer version is an error naming its line."""
    known = known_versions()
    doc = copy.deepcopy(jd.doc)
    problems = []
    for path in sorted(jd.lines, key=len, reverse=True):     # children before parents
        node = doc
        for p in path:
            node = node[p]
        schema = node.get("OTIO_SCHEMA") if isinstance(node, dict) else None
        if not isinstance(schema, str) or "." not in schema:
            continue
        name, _, ver = schema.rpartition(".")
        try:
            version = int(ver)
        except ValueError:
            continue
        if name not in known or version <= known[name]:
            continue
        down = DOWNGRADES.get((name, version))
        if down is None or down[0] != known[name]:
            problems.append((path, f"{schema} is newer than this OpenTimelineIO reads ({name}.{known[name]}); "
                                   f"update OpenTimelineIO or re-export the timeline"))
            continue
        new = down[1](node)
        if path:
            parent = doc
            for p in path[:-1]:
                parent = parent[p]
            parent[path[-1]] = new
        else:
            doc = new
        jd.downgraded.append((path, schema, f"{name}.{down[0]}"))
    if problems:
        from ..errors import Problem

        raise DubError([Problem(str(file), jd.line(p), path_text(p), msg) for p, msg in problems])
    return doc


def read_timeline_json(text: str, file: str | Path):
    """(otio object, :class:`JsonDocument`) from OTIO JSON text."""
    import opentimelineio as otio

    jd = parse(text, file)
    doc = for_installed_otio(jd, file)
    try:
        obj = otio.adapters.read_from_string(json.dumps(doc), adapter_name="otio_json")
    except Exception as exc:   # the C++ reader raises several types, each with a message
        msg = str(exc)
        m = re.search(r"near line (\d+)", msg)
        raise DubError.at(file, int(m.group(1)) if m and not jd.downgraded else None, "OpenTimelineIO",
                          f"cannot read the timeline: {msg}") from None
    return obj, jd


def dump(doc: Any) -> str:
    """An OTIO JSON document as the text of a ``.otio`` file."""
    return json.dumps(doc, indent=4, ensure_ascii=False) + "\n"
