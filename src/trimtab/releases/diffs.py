"""What changed between two releases, in the terms a reviewer thinks in:
prompts line by line, params and settings as key changes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class Change:
    path: str
    change: str  # added | removed | changed
    old: Any = None
    new: Any = None


@dataclass
class SpecDiff:
    changes: list[Change] = field(default_factory=list)
    prompts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.prompts

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [c.__dict__ for c in self.changes],
            "prompts": {name: "\n".join(lines) for name, lines in self.prompts.items()},
        }


def diff_specs(old: dict, new: dict, *, old_label: str = "a", new_label: str = "b") -> SpecDiff:
    result = SpecDiff()
    old_prompts = old.get("prompts", {})
    new_prompts = new.get("prompts", {})
    for name in sorted(old_prompts.keys() | new_prompts.keys()):
        before = old_prompts.get(name)
        after = new_prompts.get(name)
        if before is not None and after is not None and before["path"] != after["path"]:
            result.changes.append(
                Change(f"prompts.{name}.path", "changed", before["path"], after["path"])
            )
        before_text = before["content"] if before else ""
        after_text = after["content"] if after else ""
        if before_text != after_text or (before is None) != (after is None):
            result.prompts[name] = list(
                difflib.unified_diff(
                    before_text.splitlines(),
                    after_text.splitlines(),
                    fromfile=f"{old_label}/{before['path'] if before else '/dev/null'}",
                    tofile=f"{new_label}/{after['path'] if after else '/dev/null'}",
                    lineterm="",
                )
            )
    rest_old = {k: v for k, v in old.items() if k != "prompts"}
    rest_new = {k: v for k, v in new.items() if k != "prompts"}
    _walk(rest_old, rest_new, "", result.changes)
    return result


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            sub = f"{path}.{key}" if path else str(key)
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a is _MISSING:
                out.append(Change(sub, "added", None, b))
            elif b is _MISSING:
                out.append(Change(sub, "removed", a, None))
            else:
                _walk(a, b, sub, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            sub = f"{path}[{i}]"
            if i >= len(old):
                out.append(Change(sub, "added", None, new[i]))
            elif i >= len(new):
                out.append(Change(sub, "removed", old[i], None))
            else:
                _walk(old[i], new[i], sub, out)
        return
    if old != new:
        out.append(Change(path, "changed", old, new))
