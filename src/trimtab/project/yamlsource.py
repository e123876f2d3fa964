"""YAML that remembers where each value came from.

PyYAML's composer gives every node a line and column; walking the node tree
ourselves keeps those positions by field path, so an error about
``systems.router.tier`` can point at ``trimtab.yaml:9:11``. It also catches
duplicate keys, which plain ``yaml.safe_load`` silently overwrites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[Any, ...]


@dataclass
class Located:
    data: Any
    file: Path
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def where(self, loc: Loc, *, key: bool = False) -> str:
        """file:line:col of the value (or key) at ``loc``, else of its nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(loc)
        while probe not in table and probe not in self.values and probe:
            probe = probe[:-1]
        line, col = table.get(probe) or self.values.get(probe, (0, 0))
        return f"{self.file.name}:{line + 1}:{col + 1}"


def load(path: Path, text: str) -> Located:
    located = Located(data=None, file=path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        located.problems.append(
            f"{where}: the file is not valid YAML: {exc.problem or exc}. "
            "Fix: check indentation and quoting on that line."
        )
        return located
    if node is None:
        located.data = {}
        return located
    located.data = _build(node, (), located, yaml.SafeLoader(""))
    return located


def _build(node: yaml.Node, loc: Loc, located: Located, constructor: yaml.SafeLoader) -> Any:
    located.values[loc] = (node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            if key in out:
                first = located.keys[loc + (key,)]
                located.problems.append(
                    f"{located.file.name}:"
                    f"{key_node.start_mark.line + 1}:{key_node.start_mark.column + 1}: "
                    f"{dotted(loc + (key,))}: duplicate key {key!r} (first defined on line "
                    f"{first[0] + 1}). Fix: merge the two entries or rename one."
                )
                continue
            located.keys[loc + (key,)] = (key_node.start_mark.line, key_node.start_mark.column)
            out[key] = _build(value_node, loc + (key,), located, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, loc + (i,), located, constructor) for i, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)


def dotted(loc: Loc) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"

