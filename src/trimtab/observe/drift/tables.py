"""Read a CSV or Parquet table straight into drift columns (pyarrow), no rows.

Turning every row of a 200,000-row table into a call record took most of a
file check's time. Here the table is read by column and each column becomes
what the row path (:func:`trimtab.observe.drift.files.read_window` then
:func:`trimtab.observe.drift.calls.raw_columns`) would make of it, so a check
gives the same verdicts either way (a test compares them):

- CSV cells are typed as the row path types them (empty is missing, an
  integer is an int, a number a float, the rest text). Columns whose cells are
  all plain integers or plain decimals are cast by pyarrow in one go; any other
  column is typed cell by cell on its distinct values only.
- Parquet columns of ints, floats, bools and strings are taken as they are.

Whatever this cannot read exactly as the row path does (a bad line, a column
mapped to the call's request, nested Parquet types, a table without rows)
returns None, and the caller reads rows, with their file-and-line errors.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trimtab.observe.drift import calls as call_columns
from trimtab.observe.drift import files

_DECIMAL = r"^-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+[eE][+-]?[0-9]+|[0-9]+\.[0-9]*[eE][+-]?[0-9]+)$"

RawColumns = tuple[dict[str, Any], int, list[str]]


def read_columns(path: Path, fields: Mapping[str, str] | None = None) -> RawColumns | None:
    """Raw drift columns, row count and notes of a table; None: read it row by row."""
    path = Path(path)
    fields = dict(fields or {})
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet") or not path.is_file() \
            or set(fields) & {"inputs", "request"} or set(fields) - set(files.CALL_FIELDS):
        return None
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    table = _csv_table(path) if suffix == ".csv" else _parquet_table(path)
    if table is None or table.num_rows == 0:
        return None
    names = table.column_names
    if len(set(names)) != len(names) or any(c not in names for c in fields.values()):
        return None
    convert = _csv_column if suffix == ".csv" else _parquet_column
    columns = {name: convert(table.column(name)) for name in names}
    if any(values is None for values in columns.values()):
        return None
    target = {column: files._CALL_KEYS[field] for field, column in fields.items()}
    notes = files._collision_notes(path, names, target)
    n_rows = table.num_rows
    raw: dict[str, Any] = {f"input.{name}": values for name, values in columns.items()
                           if name not in target}
    if target:  # the mapped fields go through the row path: few columns, exact semantics
        mapped = {target[name]: _as_list(columns[name], n_rows) for name in target}
        rows = [dict(zip(mapped, cells, strict=True))
                for cells in zip(*mapped.values(), strict=True)]
        extra, _, row_notes = call_columns.raw_columns(rows)
        raw.update(extra)
        notes += row_notes
    return raw, n_rows, notes


def _as_list(values: Any, n_rows: int) -> list[Any]:
    if isinstance(values, np.ndarray):
        return [None if v != v else v for v in values.tolist()]
    return list(values)


# ---------------------------------------------------------------- CSV

def _csv_table(path: Path):
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except (UnicodeDecodeError, csv.Error):
        return None
    if not header:
        return None
    try:
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False),  # 3x faster; a quoted
            # newline fails the parse (checked by a test) and the row path reads the file
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except (pa.ArrowException, OSError, ValueError):
        return None  # the row path names the file and line


def _csv_column(column) -> Any:
    """The row path's typing of one CSV column: int64 or float64 array, or a list.

    pyarrow's casts are tried first (they stop at the first cell they cannot
    parse); where they could read a cell unlike Python's ``int``/``float``
    (hex, a sign, all-integral floats), the cells are typed one by one.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column)
    nulls = column.null_count
    if nulls == n:
        return [None] * n
    try:
        ints = pc.cast(column, pa.int64())
    except pa.ArrowInvalid:
        ints = None
    if ints is not None:
        if pc.any(pc.match_substring(column, "x", ignore_case=True)).as_py():
            return _cell_by_cell(column)  # 0x10 is text to Python's int()
        return ints.to_numpy() if nulls == 0 else ints.to_pylist()
    try:
        floats = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return _cell_by_cell(column)
    finite = floats[np.isfinite(floats)]
    if finite.size and np.array_equal(finite, np.floor(finite)) \
            and not pc.all(pc.match_substring_regex(column, _DECIMAL)).as_py():
        return _cell_by_cell(column)  # e.g. +5: an int to Python, not to pyarrow
    return floats


def _cell_by_cell(column) -> list[Any]:
    """Type each distinct cell as the row path does, then spread them over the rows."""
    encoded = column.combine_chunks().dictionary_encode()
    typed = [files._cell(text) for text in encoded.dictionary.to_pylist()]
    values = [None if i is None else typed[i] for i in encoded.indices.to_pylist()]
    return call_columns.Labels(values) if all(isinstance(v, str) for v in typed) else values


# ---------------------------------------------------------------- Parquet

def _parquet_table(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError):
        return None


def _parquet_column(column) -> Any:
    """Ints, floats, bools and strings as the row path reads them; None for the rest."""
    import pyarrow as pa
    import pyarrow.types as t

    kind = column.type
    if t.is_dictionary(kind):
        kind = kind.value_type
    n = len(column)
    if t.is_null(kind) or column.null_count == n:
        return [None] * n
    if t.is_integer(kind) and not t.is_uint64(kind):
        if column.null_count:
            return column.to_pylist()
        return column.cast(pa.int64()).to_numpy()
    if t.is_floating(kind):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if t.is_string(kind) or t.is_large_string(kind):
        return call_columns.Labels(column.to_pylist())
    if t.is_boolean(kind):
        return column.to_pylist()
    return None
