"""YAML that remembers where each value came from, so errors can name the line.

Bounded: a file over :data:`MAX_BYTES`, nested deeper than :data:`MAX_DEPTH` or expanding (through
aliases) past :data:`MAX_VALUES` values is refused with its line, so an alias bomb costs nothing."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import DubError

MAX_BYTES = 4 * 1024 ** 2        # a casting file of thousands of characters is a few hundred kB
MAX_VALUES = 200_000             # values once aliases are expanded
MAX_DEPTH = 64


class Mapping(dict):
    """A dict whose ``line(key)`` is the 1-based line of that key in the file."""

    def __init__(self, *args, start_line: int = 0, **kw):
        super().__init__(*args, **kw)
        self.start_line = start_line
        self.key_lines: dict[Any, int] = {}

    def line(self, key: Any) -> int:
        return self.key_lines.get(key, self.start_line)


class Sequence(list):
    """A list whose ``item_lines[i]`` is the 1-based line of item ``i``."""

    def __init__(self, *args, start_line: int = 0):
        super().__init__(*args)
        self.start_line = start_line
        self.item_lines: list[int] = []


class _Budget:
    def __init__(self, path: Path):
        self.path, self.left = path, MAX_VALUES

    def spend(self, node: yaml.Node, depth: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise DubError.at(self.path, node.start_mark.line + 1, None,
                              f"expands to more than {MAX_VALUES} values (aliases repeating aliases?); refused")
        if depth > MAX_DEPTH:
            raise DubError.at(self.path, node.start_mark.line + 1, None,
                              f"nested more than {MAX_DEPTH} levels deep (a recursive alias?); refused")


def _build(node: yaml.Node, constructor: yaml.constructor.SafeConstructor, path: Path,
           budget: _Budget | None = None, depth: int = 0) -> Any:
    budget = budget or _Budget(path)
    budget.spend(node, depth)
    if isinstance(node, yaml.MappingNode):
        out = Mapping(start_line=node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = _build(key_node, constructor, path, budget, depth + 1)
            if isinstance(key, (dict, list)):
                raise DubError.at(path, key_node.start_mark.line + 1, None, "a key must be a plain value")
            if key in out:
                raise DubError.at(path, key_node.start_mark.line + 1, str(key),
                                  f"appears twice (first on line {out.line(key)})")
            out[key] = _build(value_node, constructor, path, budget, depth + 1)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Sequence(start_line=node.start_mark.line + 1)
        for item in node.value:
            seq.append(_build(item, constructor, path, budget, depth + 1))
            seq.item_lines.append(item.start_mark.line + 1)
        return seq
    return constructor.construct_object(node, deep=True)


def load(path: str | Path, text: str) -> Any:
    """Parse YAML text into :class:`Mapping`/:class:`Sequence`/scalars; syntax errors name the line."""
    path = Path(path)
    if len(text) > MAX_BYTES:
        raise DubError.at(path, None, None, f"is {len(text) / 1024 ** 2:.1f} MB; a casting file over "
                          f"{MAX_BYTES // 1024 ** 2} MB is refused")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise DubError.at(path, line, None, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise DubError.at(path, None, None, f"not valid YAML: {exc}") from None
    if node is None:
        return None
    return _build(node, yaml.constructor.SafeConstructor(), path)
