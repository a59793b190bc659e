"""YAML that remembers where each value came from, so errors can name the line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import DubError


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


def _build(node: yaml.Node, constructor: yaml.constructor.SafeConstructor, path: Path) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = Mapping(start_line=node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = _build(key_node, constructor, path)
            if isinstance(key, (dict, list)):
                raise DubError.at(path, key_node.start_mark.line + 1, None, "a key must be a plain value")
            if key in out:
                raise DubError.at(path, key_node.start_mark.line + 1, str(key),
                                  f"appears twice (first on line {out.line(key)})")
            out[key] = _build(value_node, constructor, path)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Sequence(start_line=node.start_mark.line + 1)
        for item in node.value:
            seq.append(_build(item, constructor, path))
            seq.item_lines.append(item.start_mark.line + 1)
        return seq
    return constructor.construct_object(node, deep=True)


def load(path: str | Path, text: str) -> Any:
    """Parse YAML text into :class:`Mapping`/:class:`Sequence`/scalars; syntax errors name the line."""
    path = Path(path)
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
