"""YAML that remembers where each value came from.

PyYAML's composer gives every node a line and column; walking the node tree
ourselves keeps those positions by field path, so an error about
``systems.router.tier`` can point at ``trimtab.yaml:9:11``. It also catches
duplicate keys, which plain ``yaml.safe_load`` silently overwrites.

The bytes come from outside, so loading is bounded: a byte cap (the caller's;
a project file is small), a nesting depth, and a cap on the values that
aliases expand to (a "billion laughs" file composes to a few nodes that walk
out to 10^9). An alias inside the value it names is an error, not a loop.
libyaml scans and parses when it is installed (five times faster); composing
stays in Python, where depth can be counted, because libyaml's composer
recurses on the C stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

Loc = tuple[Any, ...]

#: Default byte cap: a project file is hand-written and small.
MAX_BYTES = 2 * 1024 * 1024
#: Lists and mappings nested deeper than this are refused.
MAX_DEPTH = 100
#: Values that aliases may add beyond the nodes written in the file.
MAX_ALIAS_VALUES = 100_000


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


class _TooDeep(yaml.MarkedYAMLError):
    pass


class _Composer(Composer):
    """PyYAML's composer, counting depth (it recurses) and nodes written."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.composed = 0
        self.names: dict[int, str] = {}  # anchored lists and mappings, for messages

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            return super().compose_node(parent, index)
        self.composed += 1
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise _TooDeep(None, None, f"lists and mappings nested more than {MAX_DEPTH} deep",
                           event.start_mark)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if event.anchor is not None:
            self.names[id(node)] = event.anchor
        return node


if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser

    class _Loader(_Composer, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
else:  # pragma: no cover - PyYAML without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, _Composer, SafeConstructor, Resolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


def too_large(path: Path, size: int, limit: int) -> str:
    """The problem for a file over its byte cap (also used before reading it)."""
    return (f"{path.name}: the file is {size:,} bytes; at most {limit:,}. Fix: split it or "
            "remove what does not belong in it.")


def load(path: Path, text: str, *, max_bytes: int = MAX_BYTES) -> Located:
    located = Located(data=None, file=path)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        located.problems.append(too_large(path, size, max_bytes))
        return located
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        deep = isinstance(exc, _TooDeep) or "nesting depth" in str(exc.problem)
        fix = ("Fix: flatten the structure." if deep
               else "Fix: check indentation and quoting on that line.")
        located.problems.append(
            f"{where}: the file is not valid YAML: {exc.problem or exc}. {fix}"
        )
        return located
    except yaml.YAMLError as exc:
        located.problems.append(f"{path.name}: the file is not valid YAML: {exc}.")
        return located
    finally:
        loader.dispose()
    if node is None:
        located.data = {}
        return located
    builder = _Builder(located, loader, budget=loader.composed + MAX_ALIAS_VALUES)
    try:
        located.data = builder.build(node, ())
    except _Expanded as exc:
        located.data = None
        top = exc.args[0][:1]
        located.problems.append(
            f"{located.where(top)}: {dotted(top)}: aliases (*name) expand to more than "
            f"{MAX_ALIAS_VALUES:,} values beyond those written in the file. Fix: write the "
            "values out, or repeat fewer aliases."
        )
    return located


class _Expanded(Exception):
    pass


class _Builder:
    """Walks the composed nodes into plain data, recording each value's position."""

    def __init__(self, located: Located, loader: _Loader, budget: int):
        self.located = located
        self.constructor = loader
        self.names = loader.names
        self.active: set[int] = set()
        self.budget = budget

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        located = self.located
        self.budget -= 1
        if self.budget < 0:
            raise _Expanded(loc)
        located.values[loc] = (node.start_mark.line, node.start_mark.column)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, loc)
        if id(node) in self.active:
            name = self.names.get(id(node), "")
            located.problems.append(
                f"{located.where(loc[:-1])}: {dotted(loc)}: the alias *{name} is used inside "
                f"the value &{name} it names, which would never end. Fix: write the value out."
            )
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, loc)
            return [self.build(item, loc + (i,)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        located = self.located
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            at = (f"{located.file.name}:"
                  f"{key_node.start_mark.line + 1}:{key_node.start_mark.column + 1}")
            if not isinstance(key_node, yaml.ScalarNode):
                located.problems.append(f"{at}: {dotted(loc)}: a key must be plain text, not a "
                                        "list or mapping. Fix: write the key as text.")
                continue
            key = self.scalar(key_node, loc)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            if key in out:
                first = located.keys[loc + (key,)]
                located.problems.append(
                    f"{at}: {dotted(loc + (key,))}: duplicate key {key!r} (first defined on line "
                    f"{first[0] + 1}). Fix: merge the two entries or rename one."
                )
                continue
            located.keys[loc + (key,)] = (key_node.start_mark.line, key_node.start_mark.column)
            out[key] = self.build(value_node, loc + (key,))
        return out

    def scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            reason = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else exc
            located = self.located
            where = f"{located.file.name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
            if node.tag == "tag:yaml.org,2002:merge":
                located.problems.append(f"{where}: {dotted(loc)}: merge keys (`<<`) are not "
                                        "read in this file. Fix: write the keys out.")
            else:
                located.problems.append(f"{where}: {dotted(loc)}: {node.value!r} cannot be "
                                        f"read ({reason}). Fix: quote it to keep it as text.")
            return node.value


def dotted(loc: Loc) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"
