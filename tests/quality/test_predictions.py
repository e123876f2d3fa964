"""A classic model's offline evaluation: its holdout predictions scored by trimtab
and stored as a normal eval run, which the promotion gate then reads."""

from __future__ import annotations

import json
import textwrap

import pytest

from trimtab.errors import TrimtabError

CHURN = "churn-model"
CLASSIC = textwrap.dedent("""\
    systems:
      churn-model:
        description: Predicts which customers will cancel next month.
        owner: data-team@example.com
        kind: classic
        tier: 3
        risk: minimal
        release:
          artefacts:
            model: model.pkl
        evals:
          holdout:
            dataset: evals/churn-holdout.jsonl
            scorers:
              - {type: classification, metric: accuracy, threshold: 0.75}
            fairness:
              - {tag: region, max_gap: 0.5}
            gate: {environments: [production]}
    """)
#: (id, true label, region); the model gets c3 wrong.
HOLDOUT = [("c1", "churn", "eu"), ("c2", "stay", "eu"), ("c3", "churn", "us"),
           ("c4", "stay", "us")]


def classic_with_suite(project_dir) -> None:
    """The churn model declared with a gated holdout suite; its dataset on disk."""
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text().replace("systems:\n", CLASSIC, 1))
    (project_dir / "model.pkl").write_bytes(b"\x80\x04 a pickled model")
    (project_dir / "evals" / "churn-holdout.jsonl").write_text("".join(
        json.dumps({"id": i, "expected": label, "tags": {"region": region}}) + "\n"
        for i, label, region in HOLDOUT))


def predictions_file(tmp_path, wrong: tuple[str, ...] = ("c3",), name="preds.jsonl"):
    path = tmp_path / name
    flip = {"churn": "stay", "stay": "churn"}
    path.write_text("".join(
        json.dumps({"id": i, "prediction": flip[label] if i in wrong else label}) + "\n"
        for i, label, _ in HOLDOUT))
    return path


def test_predictions_are_scored_and_stored_as_an_eval_run_on_the_release_and_dataset(
        ws, project_dir, tmp_path):
    classic_with_suite(project_dir)
    release, _ = ws.release(CHURN)
    report = ws.eval(CHURN, release=release.id, predictions=predictions_file(tmp_path))

    assert report.passed
    (run,) = report.runs
    stored = run.stored
    assert (stored.release_id, stored.suite, stored.cases, stored.passed_cases) == \
        (release.id, "holdout", 4, 3)
    assert stored.dataset_path == "evals/churn-holdout.jsonl"
    assert len(stored.dataset_sha256) == 64
    details = stored.details
    (scorer,) = details["scorers"]
    assert (scorer["metric"], scorer["value"]) == ("accuracy", 0.75)
    (fair,) = details["fairness"]
    assert (fair["tag"], fair["groups"]) == ("region", {"eu": 1.0, "us": 0.5})
    assert details["predictions"]["path"].endswith("preds.jsonl")
    assert details["failing_cases"] == ["c3"]
    # The same run the rest of trimtab reads: listed, and it lets the gate pass.
    assert [r.id for r in ws.eval_runs(CHURN)] == [stored.id]
    for env in ws.project.spec.environments:
        ws.promote(CHURN, release.id, env)


def test_the_gate_refuses_a_release_whose_predictions_fail_and_the_cli_exits_1(
        cli, ws, project_dir, tmp_path):
    classic_with_suite(project_dir)
    release, _ = ws.release(CHURN)
    bad = predictions_file(tmp_path, wrong=("c1", "c3"))
    out = cli("eval", CHURN, "--release", release.id, "--predictions", str(bad),
              "--junit", str(tmp_path / "eval.xml"), expect=1).output
    assert "accuracy 0.500 is below its threshold 0.75" in out
    assert "<failure" in (tmp_path / "eval.xml").read_text()
    with pytest.raises(TrimtabError, match="passing"):
        for env in ws.project.spec.environments:
            ws.promote(CHURN, release.id, env)
    # CSV works too, and a passing run opens the gate.
    good = tmp_path / "preds.csv"
    good.write_text("id,prediction\n" + "".join(f"{i},{label}\n" for i, label, _ in HOLDOUT))
    result = json.loads(cli("eval", CHURN, "-r", release.id, "-p", str(good), "--json").output)
    assert result["passed"] and result["runs"][0]["passed_cases"] == 4
    ws.promote(CHURN, release.id, ws.project.spec.environments[-1])


@pytest.mark.parametrize(("text", "message"), [
    ('{"id": "c1", "prediction": "churn"}\nnot json\n', r"preds.jsonl:2: not JSON"),
    ('{"id": "c1", "prediction": "churn"}\n{"id": "c1", "prediction": "stay"}\n',
     r"preds.jsonl:2: case 'c1' is predicted twice"),
    ('{"id": "c1"}\n', r"preds.jsonl:1: no `prediction` field for case 'c1'"),
    ('{"id": "c1", "prediction": "churn"}\n{"id": "c9", "prediction": "stay"}\n',
     r"no prediction for 'c2', 'c3', 'c4'; case\(s\) not in the dataset: 'c9'"),
])
def test_bad_predictions_name_the_line_and_store_nothing(ws, project_dir, tmp_path, text,
                                                         message):
    classic_with_suite(project_dir)
    release, _ = ws.release(CHURN)
    path = tmp_path / "preds.jsonl"
    path.write_text(text)
    with pytest.raises(TrimtabError, match=message):
        ws.eval(CHURN, release=release.id, predictions=path)
    assert ws.eval_runs(CHURN) == []


def test_a_non_finite_prediction_given_from_python_is_refused(ws, project_dir):
    classic_with_suite(project_dir)
    release, _ = ws.release(CHURN)
    with pytest.raises(TrimtabError, match=r"case 'c2'\['p'\] is nan, which no scorer"):
        ws.eval(CHURN, release=release.id,
                predictions={"c1": "churn", "c2": {"p": float("nan")}})
    assert ws.eval_runs(CHURN) == []


def test_an_llm_system_cannot_replace_its_calls_with_given_predictions(live, tmp_path):
    ws, release = live
    with pytest.raises(TrimtabError, match="predictions are for classic models"):
        ws.eval("complaint-router", release=release.id, predictions={"c1": "x"})


@pytest.mark.parametrize(("name", "text", "message"), [
    ("preds.csv", "id,prediction\nc1,churn\nc2\n",
     r"preds.csv:3: 1 cells, the header has 2\. Fix: one cell per column"),
    ("preds.csv", "id,prediction\nc1,churn\nc2,stay,extra\n",
     r"preds.csv:3: 3 cells, the header has 2"),
    ("preds.csv", 'id,prediction\n"c1",\n"c2","two\nlines"\nc3,' + "x" * 1_100_000 + "\n",
     r"preds.csv:5: not valid CSV \(field larger than field limit \(1048576\)\)"),
    ("preds.jsonl", '{"id": "c1", "prediction": "churn"}\n' + "[" * 50_000 + "\n",
     r"preds.jsonl:2: lists and objects nested too deep\. Fix: flatten the prediction\."),
    # A prediction no scorer can judge (NaN equals nothing; 1e999 reads as Infinity).
    ("preds.jsonl", '{"id": "c1", "prediction": 0.5}\n{"id": "c2", "prediction": NaN}\n',
     r"preds.jsonl:2: NaN is not a number JSON allows"),
    ("preds.jsonl", '{"id": "c1", "prediction": {"p": -1e999}}\n',
     r"preds.jsonl:1: -1e999 is past a 64-bit float's range"),
    # A column named twice: one of its cells would be dropped without a word.
    ("preds.csv", "id,prediction,prediction\nc1,churn,stay\n",
     r"preds.csv:1: the header names `prediction` more than once"),
])
def test_hostile_prediction_files_are_errors_with_the_line_and_store_nothing(
        ws, project_dir, tmp_path, name, text, message):
    classic_with_suite(project_dir)
    release, _ = ws.release(CHURN)
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TrimtabError, match=message):
        ws.eval(CHURN, release=release.id, predictions=path)
    assert ws.eval_runs(CHURN) == []
