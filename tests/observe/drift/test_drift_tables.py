"""A CSV or Parquet table read by column (pyarrow) drifts exactly as read row by row."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trimtab.observe.drift import monitor
from trimtab.observe.drift.files import read_window
from trimtab.observe.drift.profiles import profile

FIELDS = {"output": "churned", "latency_ms": "latency"}


def table(seed: int, shift: float, rows: int = 240) -> dict[str, list]:
    """Every way a cell can be typed: ints, floats, gaps, text, mixed, odd numbers."""
    rng = random.Random(seed)
    pick = rng.choice
    return {
        "plan": [pick(["free", "pro", "team", ""]) for _ in range(rows)],
        "rating": [str(rng.randint(1, 5)) for _ in range(rows)],
        "amount": [pick([f"{rng.gauss(50 + shift, 10):.3f}", "", "nan"]) for _ in range(rows)],
        "visits": [pick([str(rng.randint(0, 400)), ""]) for _ in range(rows)],
        "code": [pick(["0x10", "+5", "7", " 12", "1_000", "abc", "1e3"]) for _ in range(rows)],
        "note": [f"customer {i} wrote {pick(['hi there', 'hello world', 'bye now'])}"
                 for i in range(rows)],
        "status": [pick(["active", "churned"] if rng.random() > shift / 20 else ["churned"])
                   for _ in range(rows)],
        "churned": [pick(["yes", "no"]) for _ in range(rows)],
        "latency": [f"{rng.expovariate(1 / (100 + shift)):.1f}" for _ in range(rows)],
        "empty": ["" for _ in range(rows)],
    }


def write_csv(path: Path, data: dict[str, list]) -> Path:
    lines = [",".join(data)] + [",".join(cells) for cells in zip(*data.values(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_parquet(path: Path, data: dict[str, list]) -> Path:
    rng = random.Random(len(data["plan"]))
    n = len(data["plan"])
    pq.write_table(pa.table({
        "plan": [v or None for v in data["plan"]],
        "rating": [int(v) for v in data["rating"]],
        "amount": [float(v) if v else None for v in data["amount"]],
        "visits": [int(v) if v else None for v in data["visits"]],
        "flag": [rng.random() < 0.3 for _ in range(n)],
        "ratio": pa.array([rng.random() for _ in range(n)], pa.float32()),
        "small": pa.array([rng.randint(0, 3) for _ in range(n)], pa.int8()),
        "status": data["status"], "churned": data["churned"],
        "latency": [float(v) for v in data["latency"]],
        "empty": pa.array([None] * n, pa.null()),
    }), path)
    return path


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
@pytest.mark.parametrize("fields", [None, FIELDS], ids=["features", "mapped"])
def test_a_table_read_by_column_drifts_as_read_by_rows(tmp_path, suffix, fields):
    write = write_csv if suffix == "csv" else write_parquet
    ref_path = write(tmp_path / f"ref.{suffix}", table(1, 0))
    cur_path = write(tmp_path / f"cur.{suffix}", table(2, 8, rows=180))
    by_rows = [monitor.Window(f"file {p.name}", read_window(p, fields)[0], source="file",
                              notes=tuple(read_window(p, fields)[1]))
               for p in (ref_path, cur_path)]
    by_columns = [monitor.file_window(p, fields) for p in (ref_path, cur_path)]
    assert all(w.columns is not None and w.rows == [] for w in by_columns)  # no row records
    assert [w.notes for w in by_columns] == [w.notes for w in by_rows]

    results = []
    for ref, cur in (by_rows, by_columns):
        columns, extraction, notes = monitor._columns(ref)
        baseline = profile(columns).to_json()
        report = monitor.check(None, "churn", "production", reference=ref, current=cur,
                               drift_share=0.5, save=False, actor="test").report
        results.append((baseline, extraction, notes, report.to_dict()))
    assert results[0] == results[1]
    names = {c["column"] for c in results[1][3]["columns"]}
    assert {"input.plan", "input.amount", "input.visits", "input.status"} <= names
    assert ("input.code" in names) == (suffix == "csv")
    assert ("output.label" in names) == (fields is not None)


def test_a_bad_line_still_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    assert monitor.read_columns(path) is None  # the row path reports it
    with pytest.raises(Exception, match=r"bad.csv:3: 3 fields, but the header has 2"):
        monitor.file_window(path)


def test_quoted_commas_and_newlines_read_as_the_row_path_reads_them(tmp_path):
    path = tmp_path / "quoted.csv"
    comments = ["line one\nline two" if i % 7 == 0 else f"a, b {i % 3}" for i in range(60)]
    path.write_text("id,comment,score\n" + "".join(
        f'{i},"{comment}",{i % 5}.5\n' for i, comment in enumerate(comments)))
    rows = monitor.Window("rows", read_window(path)[0], source="file")
    by_file, by_rows = monitor._columns(monitor.file_window(path)), monitor._columns(rows)
    assert profile(by_file[0]).to_json() == profile(by_rows[0]).to_json()
    assert by_file[1:] == by_rows[1:]
    assert "input.comment.length" in by_file[0]  # the comment is text, read whole
