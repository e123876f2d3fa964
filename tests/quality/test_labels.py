"""Ground truth for classic models: labels that arrive after the prediction, by call
id or by a tag, one at a time or as CSV/Parquet files; the metrics they make
(accuracy, per-class scores, macro-F1, MAE/RMSE per window and release); the
alert rules that read them; `trimtab label` and `trimtab labels`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers.alerts import T0, add_yaml, state_of
from trimtab.quality.labels import LabelError, normalise

CHURN = """
  churn-model:
    description: Predicts which customers will not renew.
    owner: data-team@example.com
    kind: classic
    tier: 3
    risk: minimal
    logging: full
    release:
      params: {threshold: 0.4}
      artefacts:
        model: models/churn.joblib
  price-model:
    description: Predicts the price of a used car.
    owner: data-team@example.com
    kind: classic
    tier: 3
    risk: minimal
    logging: full
    release:
      artefacts:
        model: models/churn.joblib
"""


@pytest.fixture
def classic(project_dir, database_url):
    """The example project with a classic churn model (classes) and a price model
    (numbers), released and live in production."""
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    path.write_text(text.replace("systems:\n", "systems:\n" + CHURN.lstrip("\n"), 1))
    (project_dir / "models").mkdir()
    (project_dir / "models" / "churn.joblib").write_bytes(b"model bytes")
    ws = trimtab.connect(project_dir, database_url=database_url)
    for system in ("churn-model", "price-model"):
        release, _ = ws.release(system)
        for env in ("dev", "staging", "production"):
            ws.promote(system, release.id, env)
    yield ws
    ws.close()


def predict(ws, outputs, *, system="churn-model", at=T0, tags=None):
    ids = [ws.record(system, {"customer": i}, out, 3.0, time=at + timedelta(seconds=i),
                     tags=(tags[i] if tags else None))
           for i, out in enumerate(outputs)]
    assert ws.flush()
    return ids


def test_values_normalise_so_equal_classes_compare_equal():
    assert normalise(1) == normalise(1.0) == normalise("1") == normalise(" 1.0 ") == "1"
    assert normalise(True) == normalise("TRUE") == "true"
    assert normalise(0.25) == "0.25" and normalise("churn ") == "churn"
    for bad in ("", "  ", None, {"a": 1}, float("nan")):
        with pytest.raises(ValueError):
            normalise(bad)


def test_one_label_by_call_id_then_relabelled_latest_wins(classic):
    [call] = predict(classic, [{"prediction": "yes", "score": 0.8}])
    done = classic.label(call[:12], "no")  # a unique prefix names one call
    assert (done.new, done.relabelled, done.correct) == (1, 0, 0)
    label = classic.label_of(call)
    assert (label.value, label.predicted, label.revision) == ("no", "yes", 1)
    again = classic.label(call, "yes")
    assert (again.new, again.relabelled, again.correct) == (0, 1, 1)
    label = classic.label_of(call)
    assert (label.value, label.revision) == ("yes", 2)
    entries = [e for e in classic.audit_log() if e.action == "label.add"]
    assert sorted(json.loads(e.payload)["relabelled"] for e in entries) == [0, 1]
    assert entries[0].object_id == call


def test_a_csv_file_keyed_by_a_tag(classic, tmp_path):
    ids = predict(classic, ["yes", "no", "no", "yes"],
                  tags=[{"order_id": f"A-{i}"} for i in range(4)])
    predict(classic, ["no"], tags=[{"order_id": "A-3"}], at=T0 + timedelta(minutes=1))
    labels = tmp_path / "labels.csv"
    labels.write_text("order_id,label\nA-0,yes\nA-1,yes\n\nA-2,no\nA-3,no\n")
    done = classic.label_file(labels, system="churn-model", key="order_id")
    assert (done.new, done.relabelled, done.repeated_keys, done.correct) == (4, 0, 1, 3)
    assert classic.label_of(ids[1]).value == "yes"
    assert classic.label_of(ids[3]) is None  # A-3's newest call took the label
    with pytest.raises(trimtab.TrimtabError, match="--system"):
        classic.label_file(labels, key="order_id")


def test_a_bad_file_names_every_line_and_stores_nothing(classic, tmp_path):
    ids = predict(classic, ["yes", "no"])
    labels = tmp_path / "labels.csv"
    labels.write_text(f"call_id,label\n{ids[0]},yes\nnot-an-id,no\n{ids[1]},\n"
                      f"{'f' * 32},no\n{ids[1]},no,extra\n")
    with pytest.raises(LabelError) as info:
        classic.label_file(labels)
    text = str(info.value)
    assert "5 problems" not in text and "4 problems" in text, text
    for line, what in ((3, "is not a call id"), (4, "is empty"), (5, f"no call {'f' * 32}"),
                       (6, "3 fields, the header has 2")):
        assert f"labels.csv:{line}: " in text and what in text, (line, text)
    assert classic.label_of(ids[0]) is None  # nothing of the batch was stored
    labels.write_text(f"call_id,label\n{ids[0]},yes\n{'f' * 32},no\n")
    done = classic.label_file(labels, skip_unknown=True)
    assert (done.new, done.skipped) == (1, 1)
    (tmp_path / "wrong.csv").write_text(f"id,truth\n{'0' * 32},y\n")
    with pytest.raises(trimtab.TrimtabError, match="no column 'call_id', 'label'"):
        classic.label_file(tmp_path / "wrong.csv")
    with pytest.raises(trimtab.TrimtabError, match="no column"):
        classic.label_file(tmp_path / "wrong.csv", id_column="id", value_column="label")
    done = classic.label_file(tmp_path / "wrong.csv", id_column="id", value_column="truth",
                              skip_unknown=True)
    assert done.stored == 0


def test_a_file_past_the_row_bound_is_refused(tmp_path):
    from trimtab.quality.labels import read_file

    path = tmp_path / "many.csv"
    path.write_text("call_id,label\n" + "".join(f"{i:032x},a\n" for i in range(4)))
    assert len(read_file(path, ref_column="call_id", max_rows=4)) == 4
    with pytest.raises(trimtab.TrimtabError, match=r"many.csv:5: more than 3 labels"):
        read_file(path, ref_column="call_id", max_rows=3)


def test_outputs_without_a_prediction_are_named(classic, project_dir):
    ids = predict(classic, [{"churn": "yes", "p": 0.7, "segment": "b2b"}])
    with pytest.raises(LabelError, match="--output-field"):
        classic.label(ids[0], "yes")
    assert classic.label(ids[0], "yes", output_field="churn").correct == 1
    ids = predict(classic, [{"a": 1, "b": 2}, [1, 2]])
    with pytest.raises(LabelError, match="output_field"):
        classic.label(ids[0], "yes")
    with pytest.raises(LabelError, match="not a single class"):
        classic.label(ids[1], "yes")


def test_metrics_per_window_and_release(classic):
    # 10 predictions, labels: 7 right; class yes: 4 true, predicted 5, hit 3.
    outputs = ["yes", "yes", "yes", "yes", "yes", "no", "no", "no", "no", "no"]
    truths = ["yes", "yes", "yes", "no", "no", "no", "no", "no", "no", "yes"]
    ids = predict(classic, outputs)
    classic.label(list(zip(ids, truths, strict=True)))
    [every, one] = classic.label_metrics("churn-model", window=timedelta(hours=1))
    assert every.release_id == "*" and one.release_id == classic.releases("churn-model")[0].id
    assert (one.labels, one.accuracy) == (10, 0.7)
    assert (every.labels, every.correct, every.accuracy) == (10, 7, 0.7)
    yes = every.scores_of("yes")
    assert (yes.support, yes.predicted) == (4, 5)
    assert yes.precision == pytest.approx(3 / 5) and yes.recall == pytest.approx(3 / 4)
    no = every.scores_of("no")
    assert no.precision == pytest.approx(4 / 5) and no.recall == pytest.approx(4 / 6)
    f1 = lambda p, r: 2 * p * r / (p + r)  # noqa: E731
    assert every.macro_f1 == pytest.approx((f1(0.6, 0.75) + f1(0.8, 4 / 6)) / 2)
    assert every.mae is None and every.numeric == 0
    # The window holds the labels that arrived in it: none a day from now.
    assert classic.label_metrics("churn-model", end=T0 + timedelta(days=30),
                                 window=timedelta(days=1)) == []


def test_numeric_targets_read_mae_and_rmse(classic):
    ids = predict(classic, [10.0, 20.0, 30.0, {"price": 41}], system="price-model")
    classic.label({ids[0]: 12, ids[1]: "20", ids[2]: 26.0, ids[3]: 40})
    [every, _] = classic.label_metrics("price-model")
    assert every.numeric == 4 and every.correct == 1
    assert every.mae == pytest.approx((2 + 0 + 4 + 1) / 4)
    assert every.rmse == pytest.approx(((4 + 0 + 16 + 1) / 4) ** 0.5)


def test_labels_from_a_file_fire_an_accuracy_rule_and_its_run_hook(classic, project_dir,
                                                                  tmp_path):
    """End to end: a classic system records predictions, their labels arrive later
    as a file each day, accuracy is computed per day, and `accuracy < 0.85 for 2d`
    fires once it has held two days, running its `run:` command (retraining)."""
    ran = tmp_path / "retrain.json"
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.stdin.read())"
    add_yaml(project_dir, f"""
        alerts:
          churn-accuracy:
            system: churn-model
            metric: accuracy
            window: 1d
            comparator: "<"
            threshold: 0.85
            for: 2d
            run:
              command: {json.dumps([sys.executable, "-c", script, str(ran)])}
          churn-recall:
            system: churn-model
            metric: recall
            class: "yes"
            window: 1d
            comparator: "<"
            threshold: 0.5
    """)
    base = datetime.now(UTC).replace(second=0, microsecond=0)
    truths = ["yes", "yes", "yes", "no", "no", "no", "no", "no", "yes", "yes"]  # 6 of 10 right
    states = []
    for day in range(3):
        now = base + timedelta(days=day)
        # Predictions keyed by customer; their truth arrives an hour later as a file.
        customers = [f"C-{day}-{i}" for i in range(10)]
        predict(classic, ["yes"] * 5 + ["no"] * 5, at=now - timedelta(hours=2),
                tags=[{"customer_id": c} for c in customers])
        renewals = tmp_path / f"renewals-{day}.csv"
        renewals.write_text("customer_id,label\n" + "".join(
            f"{c},{t}\n" for c, t in zip(customers, truths, strict=True)))
        done = classic.label_file(renewals, system="churn-model", key="customer_id",
                                  at=now - timedelta(hours=1))
        assert (done.new, done.correct) == (10, 6)
        cycle = classic.check_alerts(now=now)
        states.append(state_of(cycle, "churn-accuracy", "churn-model"))
        assert state_of(cycle, "churn-recall", "churn-model").state == "ok"  # recall 3/5
    assert [s.state for s in states] == ["pending", "pending", "firing"]
    assert states[-1].value == pytest.approx(0.6) and "10 labels" in states[-1].detail
    [sent] = cycle.sent
    assert sent.ok and sent.target == "run:"
    event = json.loads(ran.read_text())
    assert (event["rule"], event["metric"], event["value"]) == ("churn-accuracy", "accuracy", 0.6)
    # A day without labels is no data, and a firing rule resolves.
    cycle = classic.check_alerts(now=base + timedelta(days=4))
    assert state_of(cycle, "churn-accuracy", "churn-model").state == "no_data"


# --- the rules in trimtab.yaml ----------------------------------------------------


def test_label_rules_are_checked_at_their_line(project_dir):
    add_yaml(project_dir, """
        alerts:
          no-class:
            metric: f1
            comparator: "<"
            threshold: 0.8
          stray-class:
            metric: accuracy
            class: fraud
            comparator: "<"
            threshold: 0.8
          past-one:
            metric: accuracy
            comparator: "<"
            threshold: 85
    """)
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(project_dir / "trimtab.yaml")
    text = "\n".join(str(p) for p in info.value.problems)
    assert "f1 is a score of one label class. Fix: add `class:`" in text
    assert "`class:` picks the label class for metrics precision, recall and f1 only" in text
    assert "accuracy is a share between 0 and 1, so 85.0 can never be crossed" in text


# --- the CLI ----------------------------------------------------------------------


def test_label_and_labels_commands(classic, cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = predict(classic, [1.5, 2.5, 4.0], system="price-model")
    assert "stored 1 labels for price-model: 1 new" in cli("label", ids[0][:20], "1.5").stdout
    pq.write_table(pa.table({"call": ids[1:], "truth": [2.0, 5.0]}), tmp_path / "late.parquet")
    done = json.loads(cli("label", "--file", str(tmp_path / "late.parquet"), "--id-column",
                          "call", "--value-column", "truth", "--json").stdout)
    assert (done["new"], done["correct"]) == (2, 0)
    table = cli("labels", "price-model").stdout
    assert "all releases" in table and "0.5" in table  # MAE (0 + 0.5 + 1) / 3
    [every, _] = json.loads(cli("labels", "price-model", "--json").stdout)
    assert every["mae"] == pytest.approx(0.5) and every["labels"] == 3
    bad = cli("label", "--file", str(tmp_path / "late.parquet"), expect=2).output
    assert "no column 'call_id', 'label'" in bad and "Traceback" not in bad
    assert "give a call id and its true label" in cli("label", ids[0], expect=2).output
    assert "no labels of churn-model arrived" in cli("labels", "churn-model").stdout


def test_mae_and_macro_f1_rules_read_the_labels(classic, project_dir):
    add_yaml(project_dir, """
        alerts:
          price-error:
            system: price-model
            metric: mae
            window: 1d
            comparator: ">"
            threshold: 3
          churn-f1:
            system: churn-model
            metric: macro_f1
            window: 1d
            comparator: "<"
            threshold: 0.8
          churn-rmse:
            system: churn-model
            metric: rmse
            window: 1d
            comparator: ">"
            threshold: 1
    """)
    ids = predict(classic, [10.0, 20.0], system="price-model")
    classic.label({ids[0]: 14, ids[1]: 25})  # errors 4 and 5: MAE 4.5
    ids = predict(classic, ["yes", "no"])
    classic.label({ids[0]: "yes", ids[1]: "yes"})
    cycle = classic.check_alerts(now=datetime.now(UTC) + timedelta(minutes=1))
    price = state_of(cycle, "price-error", "price-model")
    assert (price.state, price.value) == ("firing", 4.5)
    f1 = state_of(cycle, "churn-f1", "churn-model")
    # yes: P 1, R 0.5, F1 2/3; no: never true, F1 0 -> macro 1/3
    assert f1.state == "firing" and f1.value == pytest.approx(1 / 3)
    rmse = state_of(cycle, "churn-rmse", "churn-model")
    assert rmse.state == "no_data" and "none numeric" in rmse.detail


def test_the_labels_page_example_runs_as_written(classic, cli, tmp_path, monkeypatch):
    """docs/labels.md's keyed file example, against outputs shaped like the demo's
    churn model ({"churn": ..., "p": ...}: two fields, so it names the prediction's)."""
    import re
    import shlex
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "labels.md").read_text()
    command = re.search(r"^trimtab label --file renewals\.csv .*$", page, re.M).group(0)
    csv_text = re.search(r"```\n(customer_id,label\n.*?)```", page, re.S).group(1)
    now = datetime.now(UTC) - timedelta(hours=1)
    predict(classic, [{"churn": "yes", "p": 0.81}, {"churn": "yes", "p": 0.66}], at=now,
            tags=[{"customer_id": "C-1042"}, {"customer_id": "C-1043"}])
    (tmp_path / "renewals.csv").write_text(csv_text)
    monkeypatch.chdir(tmp_path)
    out = cli(*shlex.split(command)[1:]).stdout
    assert "stored 2 labels for churn-model: 2 new, 0 relabelled (latest wins); 1 of them " \
        "matched the prediction" in out
    assert out.strip() in page  # the output the page shows


def test_labels_shows_a_predicted_class_as_written(classic, cli, monkeypatch):
    """A class is a call's output (the model's answer): Rich markup in it is text, and a
    stray `[/]` no longer crashes `trimtab labels` with a MarkupError."""
    from tests.cli.test_terminal_text import shown

    ids = predict(classic, ["[/]", "[red]x\x1b[2J"])
    classic.label(ids[0], "[/]")
    classic.label(ids[1], "[bold]no")
    for terminal in (True, False):
        text = shown(cli, monkeypatch, "labels", "churn-model", terminal=terminal)
        assert "\x1b" not in text
        for shown_class in ("[/]", "[red]x␛[2J", "[bold]no"):
            assert shown_class in text, (terminal, text)
