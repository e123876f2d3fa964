"""Drift on a team's own tables: paths that are no windows, column kinds, and
columns named like call fields that stay features unless mapped."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import trimtab
from trimtab.observe.drift.files import read_window

SYSTEM = "complaint-router"


def churn_table(path: Path, *, churned_share: float, seed: int, rows: int = 300) -> Path:
    """A classic model's table: a plan, a 1-5 rating, an amount, and a `status`
    feature (the customer's, not the call's) that moves from active to churned."""
    rng = random.Random(seed)
    lines = ["plan,rating,amount,status"]
    for _ in range(rows):
        status = "churned" if rng.random() < churned_share else "active"
        lines.append(f"{rng.choice(['free', 'pro'])},{rng.randint(1, 5)},"
                     f"{rng.gauss(50, 10):.2f},{status}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tables(tmp_path):
    data = tmp_path / "data"
    return (churn_table(data / "train.csv", churned_share=0.05, seed=1),
            churn_table(data / "this-week.csv", churned_share=0.6, seed=2))


def test_a_status_column_is_a_feature_and_the_collision_is_reported(ws, tables):
    reference, current = tables
    result = ws.drift(SYSTEM, reference=reference, current=current, save=False)
    status = result.report["input.status"]
    assert status.drifted  # active → churned is the drift that matters
    assert "status" not in [c.column for c in result.report.columns]  # not the call's status
    assert any("column 'status' is read as a feature" in note and "--fields status=status"
               in note for note in result.notes)


def test_mapped_columns_are_call_fields(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("age,plan,output,latency\n41,pro,churn,12.5\n29,,stay,9\n")
    rows, notes = read_window(path, {"output": "output", "latency_ms": "latency"})
    assert rows[0] == {"request": {"age": 41, "plan": "pro"}, "response": "churn",
                       "latency_ms": 12.5}
    assert notes == []
    rows, notes = read_window(path)
    assert rows[0] == {"request": {"age": 41, "plan": "pro", "output": "churn", "latency": 12.5}}
    assert len(notes) == 1 and "'output'" in notes[0]
    with pytest.raises(trimtab.TrimtabError, match="no column 'churned'"):
        read_window(path, {"output": "churned"})
    with pytest.raises(trimtab.TrimtabError, match="'label' is no call field"):
        read_window(path, {"label": "output"})


def test_kinds_force_a_columns_kind_and_a_baseline_keeps_them(ws, tables):
    reference, current = tables
    inferred = ws.drift(SYSTEM, reference=reference, current=current, save=False)
    assert inferred.report["input.rating"].kind == "categorical"  # five values: labels
    forced = ws.drift(SYSTEM, reference=reference, current=current, save=False,
                      kinds={"rating": "numerical", "input.plan": "categorical"})
    assert forced.report["input.rating"].kind == "numerical"
    ws.drift_baseline(SYSTEM, file=reference, kinds={"rating": "numerical"})
    assert ws.drift(SYSTEM, current=current, save=False).report["input.rating"].kind \
        == "numerical"
    with pytest.raises(trimtab.TrimtabError, match="kinds: no column 'ratting'"):
        ws.drift(SYSTEM, reference=reference, current=current, save=False,
                 kinds={"ratting": "categorical"})


def test_a_path_with_dots_is_a_file_not_a_window(cli, tables, monkeypatch):
    reference, current = tables
    work = reference.parent.parent / "notebooks"
    work.mkdir()
    monkeypatch.chdir(work)
    for args in (["--reference", "../data/train.csv"],
                 ["--reference-file", "../data/train.csv"]):
        out = cli("drift", "check", SYSTEM, *args, "--current", "../data/this-week.csv",
                  "--kinds", "rating=numerical", "--no-save", "--json").stdout
        report = json.loads(out)
        assert report["reference"].startswith("file train.csv")
        kinds = {c["column"]: c["kind"] for c in report["columns"]}
        assert kinds["input.rating"] == "numerical"
    missing = cli("drift", "check", SYSTEM, "--reference", "../data/gone.csv",
                  "--current", "../data/this-week.csv", expect=2).output
    assert "gone.csv: no such file" in missing
    bad = cli("drift", "check", SYSTEM, "--reference", "../data/train.csv", "--current",
              "../data/this-week.csv", "--kinds", "rating", expect=2).output
    assert "'rating' is not NAME=VALUE" in bad
    out = cli("drift", "check", SYSTEM, "--reference", "../data/train.csv", "--current",
              "../data/this-week.csv", "--fields", "status=status", "--no-save").stdout
    assert "input.status" not in out and "read as a feature" not in out  # mapped: a call field


def test_a_classic_systems_drift_shows_only_its_own_inputs_and_outputs(project_dir,
                                                                        database_url, tables):
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text() + (
        "  churn:\n    kind: classic\n    description: churn model\n    owner: ds@example.com\n"
        "    tier: 3\n    risk: minimal\n    release:\n      params: {threshold: 0.4}\n"
    ))
    reference, current = tables
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        columns = {c.column for c in ws.drift("churn", reference=reference, current=current,
                                              fields={"output": "status"},
                                              save=False).report.columns}
        assert columns == {"input.plan", "input.rating", "input.amount", "output.label"}
        ws.drift_baseline("churn", file=reference, fields={"output": "status"})
        stored = ws.drift("churn", current=current, fields={"output": "status"}, save=False)
        assert {c.column for c in stored.report.columns} == columns
        llm = ws.drift(SYSTEM, reference=reference, current=current,
                       fields={"output": "status"}, save=False)
        assert "output.refusal" in {c.column for c in llm.report.columns}  # an LLM's are kept
