"""Ground truth for classic models: true labels that arrive after the prediction.

A fraud flag is confirmed by a chargeback weeks later, a ticket's real team by
whoever closed it. Labels come one at a time (``trimtab label CALL VALUE``,
``ws.label``, ``POST /api/v1/labels``) or as a CSV/Parquet file keyed by call
id or by a tag the application set when it recorded the call (``--key
order_id`` matches ``tags={"order_id": ...}``).

Each label is stored beside a copy of the prediction it judges (the call's
output), so accuracy and errors are read without the call log, which
retention prunes. A call labelled again keeps the latest label and counts the
revision. Every problem in a batch (a bad line, an unknown call, a call whose
output was not stored) is reported at once, with file and line, and nothing
of the batch is stored.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.store import Store
from trimtab.store import labels as label_store

MAX_BYTES = 64 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_LINE = 64 * 1024
MAX_LABEL = 200  # characters of a label (the store's column)
MAX_PROBLEMS = 50
#: Fields a dict-shaped output is read from when --output-field does not name one.
PREDICTION_FIELDS = ("prediction", "predicted", "label", "class", "value", "output", "y")
#: How far back a file keyed by a tag looks for its calls unless told.
DEFAULT_SINCE = timedelta(days=90)
_CALL_ID = re.compile(r"^[0-9a-f]{32}$")


class LabelError(TrimtabError):
    """Every problem in a batch of labels, together; nothing of the batch was stored."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the labels {source} " \
               "(nothing was stored):"
        tail = [f"  ... and {more} more"] if more else []
        super().__init__("\n".join([head, *(f"  {p}" for p in shown), *tail]))


@dataclass(frozen=True)
class LabelRow:
    """One label as read: which call (an id, or a tag value with ``key``), the value,
    and where it came from for error messages (``labels.csv:12``, ``[3]``)."""

    ref: str
    value: Any
    where: str


@dataclass(frozen=True)
class Labelled:
    """What a batch did: labels new to their call, labels that replaced an earlier
    one (latest wins), rows skipped for want of a call, keys more than one call
    carried (the newest call took the label)."""

    new: int
    relabelled: int
    skipped: int
    repeated_keys: int
    systems: list[str]
    correct: int

    @property
    def stored(self) -> int:
        return self.new + self.relabelled

    def to_dict(self) -> dict[str, Any]:
        return {"stored": self.stored, "new": self.new, "relabelled": self.relabelled,
                "skipped": self.skipped, "repeated_keys": self.repeated_keys,
                "systems": self.systems, "correct": self.correct}


# --- values ----------------------------------------------------------------------


def normalise(value: Any) -> str:
    """A label or prediction as the text labels compare by: numbers in one spelling
    (1, 1.0 and "1" are the same class), true/false in lower case, other text
    stripped. ValueError for what is neither a class nor a number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("it is empty")
        if text.lower() in ("true", "false"):
            return text.lower()
        try:
            number = float(text)
        except ValueError:
            return text
        return _number(number) if math.isfinite(number) else text
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return normalise(value.item())
    raise ValueError(f"{type(value).__name__} is neither a class nor a number")


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def label_text(value: Any) -> str:
    text = normalise(value)
    if len(text) > MAX_LABEL:
        raise ValueError(f"{len(text)} characters; a label has at most {MAX_LABEL}")
    return text


def prediction_of(logging_mode: str, response: str | None, output_field: str | None) -> str:
    """The prediction a stored call output holds, normalised. ValueError saying why
    there is none (output not stored, a dict without a known field)."""
    if logging_mode in ("metadata", "hashed"):
        raise ValueError(f"its output was not stored (privacy mode {logging_mode}), so there "
                         "is no prediction to compare with. Fix: record the system's "
                         "predictions with privacy: full or redacted")
    if response is None:
        raise ValueError("it has no output (a failed call?)")
    try:
        output = json.loads(response)
    except ValueError:
        output = response
    if output_field is not None:
        if not isinstance(output, dict) or output_field not in output:
            raise ValueError(f"its output has no field {output_field!r}")
        output = output[output_field]
    elif isinstance(output, dict):
        if len(output) == 1:
            output = next(iter(output.values()))
        else:
            field = next((f for f in PREDICTION_FIELDS if f in output), None)
            if field is None:
                raise ValueError(f"its output has fields {', '.join(sorted(output)[:8])}; "
                                 "Fix: name the one holding the prediction "
                                 "(--output-field / output_field=)")
            output = output[field]
    if isinstance(output, list) and len(output) == 1:
        output = output[0]
    if isinstance(output, dict | list) or output is None:
        raise ValueError("its output is not a single class or number. Fix: name the field "
                         "holding the prediction (--output-field / output_field=)")
    text = normalise(output)
    # Longer than any label: kept cut, one character past the longest label, so it
    # can never equal one.
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL] + "…"


# --- files -----------------------------------------------------------------------


def read_file(path: Path, *, ref_column: str, value_column: str = "label",
              max_rows: int = MAX_ROWS) -> list[LabelRow]:
    """The rows of a CSV or Parquet file of labels. The file must have a header
    (CSV) or columns (Parquet) naming ``ref_column`` and ``value_column``."""
    path = Path(path)
    if not path.is_file():
        raise TrimtabError(f"{path}: no such file. Fix: give the path of a .csv or .parquet "
                           "file of labels.")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise TrimtabError(f"{path}: {size:,} bytes; a labels file has at most {MAX_BYTES:,}. "
                           "Fix: split it.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path, ref_column, value_column, max_rows)
    if suffix == ".parquet":
        return _parquet_rows(path, ref_column, value_column, max_rows)
    raise TrimtabError(f"{path}: a labels file is .csv or .parquet, not {suffix or 'no suffix'}.")


def _missing_columns(path: Path, have: Iterable[str], wanted: list[str]) -> TrimtabError | None:
    have = list(have)
    missing = [c for c in wanted if c not in have]
    if not missing:
        return None
    return TrimtabError(
        f"{path}: no column {', '.join(repr(c) for c in missing)} (columns: "
        f"{', '.join(have[:20]) or 'none'}). Fix: name the columns call_id (or the tag "
        "given with --key) and label, or pick them with --id-column / --value-column.")


def _csv_rows(path: Path, ref_column: str, value_column: str, max_rows: int) -> list[LabelRow]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrimtabError(f"{path}: not UTF-8 text ({exc.reason}). Fix: save it as UTF-8.") \
            from None
    reader = csv.reader(io.StringIO(text, newline=""))
    csv.field_size_limit(MAX_LINE)
    try:
        header = next(reader, None)
        if header is None:
            raise TrimtabError(f"{path}: the file is empty. Fix: a header line, then one "
                               "label a line (call_id,label).")
        header = [h.strip() for h in header]
        problem = _missing_columns(path, header, [ref_column, value_column])
        if problem:
            raise problem
        at_ref, at_value = header.index(ref_column), header.index(value_column)
        rows: list[LabelRow] = []
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(rows) >= max_rows:
                raise TrimtabError(f"{path}:{line}: more than {max_rows:,} labels in one "
                                   "file. Fix: split it.")
            where = f"{path.name}:{line}"
            if len(fields) != len(header):
                rows.append(LabelRow("", _Bad(f"{len(fields)} fields, the header has "
                                              f"{len(header)}"), where))
                continue
            rows.append(LabelRow(fields[at_ref].strip(), fields[at_value], where))
    except csv.Error as exc:
        raise TrimtabError(f"{path}:{reader.line_num}: not valid CSV ({exc}). Fix: quote "
                           "fields holding commas or line breaks.") from None
    return rows


def _parquet_rows(path: Path, ref_column: str, value_column: str,
                  max_rows: int) -> list[LabelRow]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise TrimtabError("reading Parquet needs pyarrow. Fix: pip install 'trimtab[drift]'.") \
            from None
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise TrimtabError(f"{path}: not a readable Parquet file ({exc}). Fix: write it again "
                           "with pyarrow or pandas.to_parquet().") from None
    problem = _missing_columns(path, schema.names, [ref_column, value_column])
    if problem:
        raise problem
    file = pq.ParquetFile(path)
    if file.metadata.num_rows > max_rows:
        raise TrimtabError(f"{path}: {file.metadata.num_rows:,} rows; at most {max_rows:,} "
                           "labels in one file. Fix: split it.")
    table = file.read(columns=[ref_column, value_column])
    refs, values = table.column(ref_column).to_pylist(), table.column(value_column).to_pylist()
    return [LabelRow("" if ref is None else str(ref).strip(), value, f"{path.name}:row {i + 1}")
            for i, (ref, value) in enumerate(zip(refs, values, strict=True))]


class _Bad:
    """A row that could not be read; its value says why."""

    def __init__(self, why: str):
        self.why = why


# --- storing ---------------------------------------------------------------------


def apply(
    store: Store,
    rows: list[LabelRow],
    *,
    actor_for: Callable[[str, set[str]], str],
    source: str,
    system: str | None = None,
    key: str | None = None,
    since: datetime | None = None,
    output_field: str | None = None,
    skip_unknown: bool = False,
    now: datetime | None = None,
) -> Labelled:
    """Check every row, then store them all in one transaction (or none).

    ``key`` names the tag the refs are values of (``system`` is then required);
    without it the refs are call ids. ``actor_for(system, envs)`` returns who
    labels that system's calls in those environments, raising when they may not
    (the role check, a gateway key's scope); it is asked for each call found before
    any problem with the call's row is told."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise TrimtabError(f"label time {now.isoformat()}: give a timezone-aware time "
                           "(datetime.now(UTC)).")
    if not rows:
        raise TrimtabError(f"{source}: no labels in it. Fix: one row per call "
                           "(call_id,label).")
    if key is not None and system is None:
        raise TrimtabError("labels keyed by a tag need the system whose calls carry it. "
                           "Fix: --system NAME (system= in Python).")
    problems: list[tuple[int, str]] = []  # (row, message): reported in row order

    def problem(at: int, text: str) -> None:
        problems.append((at, text))

    values: list[str | None] = []
    for at, row in enumerate(rows):
        values.append(None)
        if isinstance(row.value, _Bad):
            problem(at, f"{row.where}: {row.value.why}. Fix: one call id and one label a "
                            "row.")
            continue
        if not row.ref:
            problem(at, f"{row.where}: the {'key' if key else 'call id'} is empty.")
            continue
        if key is None and not _CALL_ID.match(row.ref):
            problem(at, f"{row.where}: {row.ref[:40]!r} is not a call id (32 hex "
                            "characters). Fix: label by a tag with --key TAG instead.")
            continue
        try:
            values[-1] = label_text(row.value)
        except ValueError as exc:
            problem(at, f"{row.where}: label {str(row.value)[:40]!r}: {exc}. Fix: a class "
                            "name or a number.")
    repeated = 0
    with store.read() as conn:
        if key is None:
            found = label_store.calls_by_id(conn, (r.ref for r in rows))
        else:
            assert system is not None
            found, repeated = label_store.calls_by_tag(
                conn, system, key, {r.ref for r in rows}, since or now - DEFAULT_SINCE)
    stored: list[dict[str, Any]] = []
    skipped = correct = 0
    allowed: set[tuple[str, str]] = set()
    for at, (row, value) in enumerate(zip(rows, values, strict=True)):
        if value is None:
            continue
        call = found.get(row.ref)
        if call is not None and (call.system, call.env) not in allowed:
            # Before any message about the call: those tell its system, release and
            # output, which a caller who may not label it must not learn.
            actor_for(call.system, {call.env})
            allowed.add((call.system, call.env))
        if call is None:
            if skip_unknown:
                skipped += 1
            else:
                what = (f"no call of {system} carries the tag {key}={row.ref[:40]!r} (since "
                        f"{(since or now - DEFAULT_SINCE):%Y-%m-%d})" if key else
                        f"no call {row.ref} is stored")
                problem(at, f"{row.where}: {what}. Fix: check the key, or pass "
                                "--skip-unknown to store the others.")
            continue
        if system is not None and call.system != system:
            problem(at, f"{row.where}: call {call.id} is a call of {call.system}, not "
                            f"{system}.")
            continue
        try:
            predicted = prediction_of(call.logging_mode, call.response, output_field)
        except ValueError as exc:
            problem(at, f"{row.where}: call {call.id}: {exc}.")
            continue
        truth, guess = _as_number(value), _as_number(predicted)
        correct += predicted == value
        stored.append({"call_id": call.id, "system": call.system, "env": call.env,
                       "release_id": call.release_id, "call_time": call.time,
                       "value": value, "predicted": predicted,
                       "error": None if truth is None or guess is None else guess - truth})
    if problems:
        raise LabelError(source, [text for _, text in sorted(problems, key=lambda p: p[0])])
    systems = sorted({row["system"] for row in stored})
    actor = ""
    for name in systems:
        actor = actor_for(name, {row["env"] for row in stored if row["system"] == name})
    if not stored:
        return Labelled(0, 0, skipped, repeated, [], 0)
    with store.write() as conn:
        new, again = label_store.put(conn, stored, actor=actor, now=now, source=source)
    return Labelled(new, again, skipped, repeated, systems, correct)
