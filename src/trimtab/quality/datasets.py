"""Eval datasets: JSONL, CSV or YAML files of cases, content-addressed.

A case is an ``id``, the ``variables`` its prompts are rendered with (or the
``messages`` of a chat), what the answer should be (``expected``) and
``tags`` to slice the results by. The sha256 of the file's bytes is recorded
with every run: a changed dataset is a new baseline, never silently compared
with the old one.

Every problem in a file is reported at once, with file and line, before any
provider call is spent. Files are bounded (MAX_BYTES, MAX_LINE, MAX_CASES)
so a stray export cannot exhaust memory or the budget.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.project import yamlsource
from trimtab.project.naming import suggest

MAX_BYTES = 64 * 1024 * 1024
MAX_LINE = 1024 * 1024
MAX_CASES = 50_000
#: Problems listed before the rest are counted only.
MAX_PROBLEMS = 50
#: Levels an ``expected.a.b...`` CSV column may nest (a JSON body's default is 64).
MAX_COLUMN_DEPTH = 32
CASE_KEYS = ("id", "variables", "messages", "expected", "tags")
ROLES = {"system", "user", "assistant", "tool", "developer"}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: ``expected`` when a case has none (None is a valid expected JSON value).
MISSING: Any = _Missing()


class DatasetError(TrimtabError):
    """Every problem found in a dataset (and in the cases against the release), together."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the eval dataset {source}:"
        tail = [f"  ... and {more} more"] if more else []
        super().__init__("\n".join([head, *(f"  {p}" for p in shown), *tail]))


@dataclass(frozen=True)
class Case:
    id: str
    line: int
    variables: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] | None = None
    expected: Any = MISSING
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def has_expected(self) -> bool:
        return self.expected is not MISSING


@dataclass(frozen=True)
class Dataset:
    path: str  # as written in trimtab.yaml, relative to it
    sha256: str
    size: int
    cases: list[Case]

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(root: Path, rel: str) -> Dataset:
    """Read, hash and parse a dataset; DatasetError lists everything wrong with it."""
    path = root / rel
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise TrimtabError(f"{rel}: no such dataset (looked in {root}). Fix: create it or "
                           "correct `dataset:` in trimtab.yaml.") from None
    if size > MAX_BYTES:
        raise DatasetError(rel, [f"{rel}: {size:,} bytes; a dataset may hold at most "
                                 f"{MAX_BYTES:,}. Fix: split it into suites."])
    data = path.read_bytes()
    problems: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(rel, [f"{rel}: not UTF-8 text ({exc.reason} at byte "
                                 f"{exc.start})."]) from None
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        raw = _jsonl(text, rel, problems)
    elif suffix == ".csv":
        raw = _csv(text, rel, problems)
    elif suffix in (".yaml", ".yml"):
        raw = _yaml(path, text, rel, problems)
    else:
        raise TrimtabError(f"{rel}: a dataset is a .jsonl, .csv or .yaml file.")
    if len(raw) > MAX_CASES:
        problems.append(f"{rel}: {len(raw):,} cases; a suite may hold at most {MAX_CASES:,}. "
                        "Fix: split it into suites or sample it.")
        raw = raw[:MAX_CASES]
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for line, obj in raw:
        case = _case(obj, line, rel, problems)
        if case is None:
            continue
        if case.id in seen:
            problems.append(f"{rel}:{line}: case id {case.id!r} is used twice (first on line "
                            f"{seen[case.id]}). Fix: give every case its own id.")
            continue
        seen[case.id] = line
        cases.append(case)
    if not raw and not problems:
        problems.append(f"{rel}: the dataset has no cases. Fix: add one case per line.")
    if problems:
        raise DatasetError(rel, by_line(problems))
    return Dataset(rel, hashlib.sha256(data).hexdigest(), size, cases)


def by_line(problems: list[str]) -> list[str]:
    """Top to bottom, as a person fixes them; problems about the whole file first."""
    def line(problem: str) -> int:
        match = _LINE.match(problem)
        return int(match[1]) if match else 0

    return sorted(problems, key=line)


_LINE = re.compile(r"^[^:]*:(\d+): ")


# --- formats ------------------------------------------------------------------------


def _jsonl(text: str, rel: str, problems: list[str]) -> list[tuple[int, Any]]:
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            problems.append(f"{rel}:{number}: the line is {len(line):,} characters; at most "
                            f"{MAX_LINE:,}. Fix: shorten the case.")
            continue
        try:
            out.append((number, finite_json(line)))
        except RecursionError:
            problems.append(f"{rel}:{number}: lists and objects nested too deep. Fix: flatten "
                            "the case.")
        except ValueError as exc:
            problems.append(f"{rel}:{number}: not valid JSON: {exc}. Fix: one JSON object per "
                            'line, e.g. {"id": "c1", "variables": {...}, "expected": ...}.')
    return out


def finite_json(text: str) -> Any:
    """JSON without NaN, Infinity or numbers past a float's range (ValueError, naming it):
    Python's json takes all three, and no expected value or prediction can be one."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: a score compared with NaN never fails."""
    raise ValueError(f"{name} is not a number JSON allows (write it as text or null)")


def _finite(text: str) -> float:
    """A number past a 64-bit float's range (``1e999``) reads as Infinity: refused too."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is past a 64-bit float's range, so it would read as "
                         "Infinity (write it as text, or a smaller number)")
    return value


def _csv(text: str, rel: str, problems: list[str]) -> list[tuple[int, Any]]:
    """A header row; ``id``, ``expected`` (or ``expected.<field>`` columns),
    ``tags.<name>`` columns; every other column is a variable."""
    csv.field_size_limit(MAX_LINE)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        problems.append(f"{rel}:1: not valid CSV: {exc}.")
        return []
    if "id" not in header:
        problems.append(f"{rel}:1: the header has no `id` column. Fix: add one, with a unique "
                        "id per case.")
        return []
    if _header_conflicts(header, rel, problems):
        return []
    out = []
    try:
        for line, row in csv_rows(reader):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(f"{rel}:{line}: {len(row)} cells, the header has "
                                f"{len(header)}. Fix: quote cells that contain commas.")
                continue
            obj: dict[str, Any] = {"variables": {}, "tags": {}}
            for column, cell in zip(header, row, strict=True):
                if column == "id":
                    obj["id"] = cell
                elif column == "expected":
                    if cell != "":
                        obj["expected"] = cell
                elif column.startswith("expected."):
                    if cell != "":
                        _put(obj.setdefault("expected", {}), column[len("expected."):], cell)
                elif column.startswith("tags."):
                    obj["tags"][column[len("tags."):]] = cell
                else:
                    obj["variables"][column] = cell
            out.append((line, obj))
    except CsvRowError as exc:
        problems.append(f"{rel}:{exc.line}: not valid CSV: {exc}.")
    return out


def _header_conflicts(header: list[str], rel: str, problems: list[str]) -> bool:
    """Columns that fill the same place, so that one cell would silently be lost: a name
    used twice, or ``expected`` (or ``expected.a``) beside ``expected.a.b``. Never column
    against column, nor prefix by prefix: no bound keeps a header narrow or a name short."""
    found = len(problems)
    places: dict[str, list[int]] = {}
    for number, column in enumerate(header, start=1):
        places.setdefault(column, []).append(number)
    for column, numbers in places.items():
        if len(numbers) > 1:
            more = f" (and {len(numbers) - 2} more)" if len(numbers) > 2 else ""
            problems.append(f"{rel}:1: the columns {numbers[0]} and {numbers[1]}{more} share "
                            f"the name `{_shown(column)}`: only one of their cells would be "
                            "kept. Fix: give each column its own name, or remove the extra ones.")
        if column.startswith("expected.") and column.count(".") > MAX_COLUMN_DEPTH:
            # Each part is a level of the expected value, which nothing downstream (JSON,
            # the scorers) could take thousands deep.
            problems.append(f"{rel}:1: column {numbers[0]}, `{_shown(column)}`, nests "
                            f"{column.count('.'):,} levels; at most {MAX_COLUMN_DEPTH}. Fix: "
                            "write a deep expected value as JSON in a JSONL dataset.")
    if len(problems) > found:
        return True
    # Sorted by their dotted parts, the columns under `expected.a` follow it at once.
    paths = sorted(c.split(".") for c in places if c == "expected" or c.startswith("expected."))
    for outer, inner in itertools.pairwise(paths):
        if inner[:len(outer)] == outer:
            short, long = ".".join(outer), ".".join(inner)
            problems.append(f"{rel}:1: the columns `{_shown(short)}` and `{_shown(long)}` "
                            f"conflict: `{_shown(short)}` cannot be a value and hold "
                            f"`{_shown(long[len(short) + 1:])}` too. Fix: keep one of them, "
                            "or rename it.")
    return len(problems) > found


def _shown(name: str, most: int = 80) -> str:
    """A column name as a message quotes it: a header cell may be up to MAX_LINE long."""
    return name if len(name) <= most else f"{name[:most]}... ({len(name):,} characters)"


class CsvRowError(csv.Error):
    """A row that is not CSV, with the line it starts on: each reader names that line
    with its own fix."""

    def __init__(self, line: int, error: csv.Error):
        super().__init__(*error.args)
        self.line = line


def csv_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header, each with the line it starts on: a quoted cell may
    span lines, so ``reader.line_num`` (where the row ended) would point past it. A row
    that is not CSV ends the rows with CsvRowError, as nothing after it can be trusted."""
    start = reader.line_num + 1  # reader: a csv.reader, past its header
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvRowError(start, exc) from None
        line, start = start, reader.line_num + 1
        yield line, row


def _put(target: Any, path: str, value: Any) -> None:
    if not isinstance(target, dict):
        return
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _yaml(path: Path, text: str, rel: str, problems: list[str]) -> list[tuple[int, Any]]:
    """A list of cases, or a mapping with ``cases:``."""
    located = yamlsource.load(path, text, max_bytes=MAX_BYTES)
    problems.extend(p.replace(path.name, rel, 1) for p in located.problems)
    data, prefix = located.data, ()
    if isinstance(data, dict) and "cases" in data:
        data, prefix = data["cases"], ("cases",)
    if data in ({}, None):
        return []
    if not isinstance(data, list):
        problems.append(f"{rel}:1: expected a list of cases (or `cases:` with one). Fix: start "
                        "each case with `- id: ...`.")
        return []
    out = []
    for i, item in enumerate(data):
        at = prefix + (i,)
        out.append((located.values.get(at, (0, 0))[0] + 1, item))
        for path, value in non_finite(item):
            line = located.values.get(at + path, (0, 0))[0] + 1
            problems.append(f"{rel}:{line}: {yamlsource.dotted(at + path)}: input should be a "
                            f"finite number, got {value}. Fix: write a number, or quote it to "
                            "keep it as text; a case expecting .nan could never pass.")
    return out


def non_finite(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], float]]:
    """NaN and infinite numbers (YAML's ``.nan``, ``.inf``) anywhere in a case: NaN equals
    nothing, so a case expecting it fails whatever the answer, and no scorer says why."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from non_finite(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from non_finite(child, path + (i,))


# --- one case -------------------------------------------------------------------------


def _case(obj: Any, line: int, rel: str, problems: list[str]) -> Case | None:
    where = f"{rel}:{line}"
    if not isinstance(obj, dict):
        problems.append(f"{where}: a case is a mapping with id, variables or messages, "
                        f"expected and tags; got {type(obj).__name__}.")
        return None
    bad = False

    def problem(message: str) -> None:
        nonlocal bad
        bad = True
        problems.append(f"{where}: {message}")

    case_id = obj.get("id")
    if isinstance(case_id, int) and not isinstance(case_id, bool):
        case_id = str(case_id)
    if not isinstance(case_id, str) or not case_id.strip() or len(case_id) > 200:
        problem("every case needs an `id`: a string of 1-200 characters, unique in the file. "
                "It is how runs are compared case by case.")
    else:
        where = f"{rel}:{line}: case {case_id!r}"
    for key in obj:
        if key not in CASE_KEYS:
            problem(f"unknown key {key!r}.{suggest(str(key), CASE_KEYS)} A case has: "
                    f"{', '.join(CASE_KEYS)}.")
    variables = obj.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(k, str) for k in variables):
        problem("`variables` must be a mapping of names to values.")
    messages = obj.get("messages")
    if messages is not None:
        if not isinstance(messages, list) or not messages:
            problem("`messages` must be a non-empty list of {role, content}.")
        else:
            for i, message in enumerate(messages):
                role = message.get("role") if isinstance(message, dict) else None
                if not (isinstance(role, str) and role in ROLES
                        and isinstance(message.get("content"), str)):
                    problem(f"messages[{i}] must be {{role: system|user|assistant, content: "
                            "text}.")
    tags = obj.get("tags", {})
    scalar = str | int | float | bool
    if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, scalar) for k, v in tags.items()):
        problem("`tags` must be a mapping of names to text, e.g. {language: de}.")
    if bad:
        return None
    return Case(id=case_id, line=line, variables=dict(variables), messages=messages,
                expected=obj.get("expected", MISSING),
                tags={k: _tag(v) for k, v in tags.items()})


def _tag(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
