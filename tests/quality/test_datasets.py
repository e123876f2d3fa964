"""Eval datasets: three formats, content-addressed, every problem with file and line
before any provider call is spent."""

from __future__ import annotations

import json

import pytest

import trimtab
from tests.helpers import edit
from trimtab.quality import datasets
from trimtab.quality.datasets import DatasetError


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_csv_and_yaml_give_the_same_cases(tmp_path):
    write(tmp_path / "a.jsonl", json.dumps({
        "id": "c1", "variables": {"text": "hi"}, "expected": {"team": "x"},
        "tags": {"lang": "en", "vip": True}}) + "\n\n")
    write(tmp_path / "a.csv", "id,text,expected.team,tags.lang,tags.vip\nc1,hi,x,en,true\n")
    write(tmp_path / "a.yaml", "cases:\n  - id: c1\n    variables: {text: hi}\n"
          "    expected: {team: x}\n    tags: {lang: en, vip: true}\n")
    loaded = [datasets.load(tmp_path, name) for name in ("a.jsonl", "a.csv", "a.yaml")]
    for dataset in loaded:
        [case] = dataset.cases
        assert (case.id, case.variables, case.expected, case.tags) == (
            "c1", {"text": "hi"}, {"team": "x"}, {"lang": "en", "vip": "true"})
        assert case.line in (1, 2)
    assert len({d.sha256 for d in loaded}) == 3  # the bytes, not the meaning, are the address


def test_every_problem_is_reported_with_file_and_line(tmp_path):
    write(tmp_path / "bad.jsonl", "\n".join([
        '{"id": "c1", "variables": {"text": "ok"}}',
        '{"id": "c2", "variables": {"text": "unterminated"',
        '{"variables": {"text": "no id"}}',
        '{"id": "c1", "variables": {}}',
        '{"id": "c4", "expectd": 1}',
        '[1, 2]',
    ]) + "\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "bad.jsonl")
    problems = info.value.problems
    assert problems[0].startswith("bad.jsonl:2: not valid JSON")
    assert problems[1].startswith("bad.jsonl:3: every case needs an `id`")
    assert problems[2].startswith("bad.jsonl:4: case id 'c1' is used twice (first on line 1)")
    assert problems[3].startswith("bad.jsonl:5: case 'c4': unknown key 'expectd'. Did you mean "
                                  "'expected'?")
    assert problems[4].startswith("bad.jsonl:6: a case is a mapping")
    assert str(info.value).startswith("5 problems in the eval dataset bad.jsonl:")


def test_csv_rows_name_their_line(tmp_path):
    write(tmp_path / "c.csv", 'id,text\nc1,"two\nlines"\nc2,a,b\n')
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "c.csv")
    assert info.value.problems == [
        "c.csv:4: 3 cells, the header has 2. Fix: quote cells that contain commas."]


def test_sizes_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_LINE", 50)
    monkeypatch.setattr(datasets, "MAX_CASES", 2)
    write(tmp_path / "big.jsonl", "\n".join(
        [json.dumps({"id": f"c{i}", "variables": {"text": "x" * (60 if i == 1 else 1)}})
         for i in range(4)]) + "\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "big.jsonl")
    whole_file, long_line = info.value.problems
    assert whole_file.startswith("big.jsonl: 3 cases; a suite may hold at most 2.")
    assert long_line.startswith("big.jsonl:2: the line is")
    monkeypatch.setattr(datasets, "MAX_BYTES", 10)
    with pytest.raises(DatasetError, match="a dataset may hold at most 10"):
        datasets.load(tmp_path, "big.jsonl")


def test_cases_are_checked_against_the_prompts_and_scorers_before_any_call(cli, project_dir):
    write(project_dir / "evals" / "complaint-router.jsonl", "\n".join([
        json.dumps({"id": "ok", "variables": {"customer": "A", "product": "P", "text": "leak"},
                    "expected": {"team": "packaging", "severity": "medium"}}),
        json.dumps({"id": "typo", "variables": {"customer": "A", "product": "P", "txt": "x"},
                    "expected": {"team": "other", "severity": "low"}}),
        json.dumps({"id": "no-team", "variables": {"customer": "A", "product": "P", "text": "x"},
                    "expected": {"severity": "low"}}),
        json.dumps({"id": "none", "variables": {"customer": "A", "product": "P", "text": "x"}}),
    ]) + "\n")
    result = cli("eval", "complaint-router", expect=2)
    out = result.output
    assert "5 problems in the eval dataset evals/complaint-router.jsonl:" in out
    assert ("evals/complaint-router.jsonl:2: case 'typo': variable 'txt' is not used by the "
            "release's prompts (they use: customer, product, text). Did you mean 'text'?") in out
    assert ("evals/complaint-router.jsonl:2: case 'typo': the user prompt "
            "(prompts/complaint-router.user.md) needs variable text.") in out
    assert ("evals/complaint-router.jsonl:3: case 'no-team': `expected` has no field 'team', "
            "which the exact:team scorer compares with.") in out
    assert "evals/complaint-router.jsonl:4: case 'none': no `expected`" in out
    assert cli("evals", "complaint-router").output.startswith("no eval runs")  # nothing ran


def test_suites_in_the_project_file_are_checked_with_file_and_line(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "- {type: latency, max_ms: 2000}",
         "- {type: latncy, max_ms: 2000}\n          - {type: regex, pattern: '(('}\n"
         "          - {type: exact, pattern: x}")
    edit(path, "dataset: evals/complaint-router.jsonl", "dataset: evals/missing.jsonl")
    edit(path, "# gate: {environments: [production]}", "gate: {environments: [prod]}")
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    lines = path.read_text().splitlines()
    problems = info.value.problems

    def at(text: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if text in line)

    suite = "systems.complaint-router.evals.routing"
    assert any(p.startswith(f"trimtab.yaml:{at('missing.jsonl')}:18: {suite}.dataset: file "
                            "'evals/missing.jsonl' does not exist") for p in problems)
    assert any(f":{at('latncy')}:" in p and "unknown scorer 'latncy'. Did you mean 'latency'?"
               in p for p in problems)
    regex_line = at("'(('")
    assert any(f":{regex_line}:" in p and "not a valid regular expression" in p
               for p in problems)
    assert any(f":{at('type: exact, pattern')}:" in p and
               "`pattern` does not apply to the exact scorer" in p for p in problems)
    assert any(f":{at('gate:')}:" in p and "unknown environment 'prod'. Did you mean "
               "'production'?" in p for p in problems)


@pytest.mark.parametrize(("text", "expected"), [
    ("cases: &c [*c]\n", "evals/bomb.yaml:1:8: cases[0]: the alias *c is used inside"),
    ("cases: " + "[" * 5_000 + "]" * 5_000 + "\n", "evals/bomb.yaml:1:"),
    ('a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)),
     "evals/bomb.yaml:"),
])
def test_a_yaml_dataset_is_loaded_with_the_same_bounds_as_trimtab_yaml(tmp_path, text, expected):
    write(tmp_path / "evals" / "bomb.yaml", text)
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "evals/bomb.yaml")
    assert info.value.problems[0].startswith(expected)
    assert "Fix:" in info.value.problems[0]


def test_hostile_jsonl_lines_are_problems_with_their_line(tmp_path):
    write(tmp_path / "hostile.jsonl", "\n".join([
        '{"id": "ok", "variables": {"text": "hi"}}',
        "[" * 100_000,
        '{"id": "x1", "messages": [{"role": ["user"], "content": "hi"}]}',
        '{"id": "nan", "variables": {"text": "hi"}, "expected": {"score": NaN}}',
        '{"id": "inf", "variables": {"text": "hi"}, "expected": -Infinity}',
    ]) + "\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "hostile.jsonl")
    problems = info.value.problems
    assert problems[0] == ("hostile.jsonl:2: lists and objects nested too deep. Fix: flatten "
                           "the case.")
    assert problems[1].startswith("hostile.jsonl:3: case 'x1': messages[0] must be {role:")
    assert problems[2].startswith("hostile.jsonl:4: not valid JSON: NaN is not a number JSON "
                                  "allows")
    assert problems[3].startswith("hostile.jsonl:5: not valid JSON: -Infinity is not a number")
    assert len(problems) == 4


def test_csv_expected_columns_that_nest_into_each_other_conflict(tmp_path):
    write(tmp_path / "clash.csv", "id,text,expected.team,expected.team.sub\nc1,hi,x,y\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "clash.csv")
    assert info.value.problems == [
        "clash.csv:1: the columns `expected.team` and `expected.team.sub` conflict: "
        "`expected.team` cannot be a value and hold `sub` too. Fix: keep one of them, or "
        "rename it."]


def test_csv_rows_are_numbered_by_the_line_they_start_on_for_both_readers():
    """One generator reads CSV rows for eval datasets and for --predictions: each row
    comes with the line it starts on (a quoted cell may span lines), and a row that is
    not CSV ends the rows with an error at its own line."""
    import csv
    import io

    from trimtab.quality import predictions

    text = 'id,text\nc1,"two\nlines"\n\nc2,' + "x" * (datasets.MAX_LINE + 1) + "\nc3,z\n"
    csv.field_size_limit(datasets.MAX_LINE)
    reader = csv.reader(io.StringIO(text, newline=""))
    assert next(reader) == ["id", "text"]
    rows = datasets.csv_rows(reader)
    assert next(rows) == (2, ["c1", "two\nlines"])
    assert next(rows) == (4, [])
    with pytest.raises(datasets.CsvRowError) as info:
        next(rows)
    assert (info.value.line, str(info.value)) == (5, "field larger than field limit (1048576)")
    assert predictions.csv_rows is datasets.csv_rows


def test_a_broken_csv_row_in_a_dataset_is_named_at_its_line(tmp_path):
    write(tmp_path / "c.csv", 'id,text\nc1,"two\nlines"\nc2,' + "x" * 1_100_000 + "\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "c.csv")
    assert info.value.problems == [
        "c.csv:4: not valid CSV: field larger than field limit (1048576)."]


@pytest.mark.parametrize(("header", "problem"), [
    ("id,text,expected,expected.team",
     "c.csv:1: the columns `expected` and `expected.team` conflict: `expected` cannot be a "
     "value and hold `team` too. Fix: keep one of them, or rename it."),
    ("id,expected.team,text,expected",
     "c.csv:1: the columns `expected` and `expected.team` conflict: `expected` cannot be a "
     "value and hold `team` too. Fix: keep one of them, or rename it."),
    ("id,expected.a.b,expected.a-x,text,expected.a",
     "c.csv:1: the columns `expected.a` and `expected.a.b` conflict: `expected.a` cannot be a "
     "value and hold `b` too. Fix: keep one of them, or rename it."),
    ("id,text,tags.lang,text",
     "c.csv:1: the columns 2 and 4 share the name `text`: only one of their cells would be "
     "kept. Fix: give each column its own name, or remove the extra ones."),
    ("id,expected.team,expected.team,expected.team,text",
     "c.csv:1: the columns 2 and 3 (and 1 more) share the name `expected.team`: only one of "
     "their cells would be kept. Fix: give each column its own name, or remove the extra "
     "ones."),
])
def test_csv_columns_that_fill_the_same_place_conflict(tmp_path, header, problem):
    """A bare `expected` beside `expected.<field>` columns, or one name used twice, would
    silently keep one cell and drop the other."""
    cells = ",".join(f"v{i}" for i in range(header.count(",") + 1))
    write(tmp_path / "c.csv", f"{header}\n{cells}\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "c.csv")
    assert info.value.problems == [problem]


def test_nan_and_infinity_anywhere_in_a_case_are_refused_at_their_line(tmp_path):
    """YAML writes NaN and Infinity as .nan and .inf: a case expecting NaN can never pass
    (NaN equals nothing) and no scorer says why. JSON's literals are refused already, and
    a number past a float's range (1e999), which reads as Infinity, is refused as well."""
    write(tmp_path / "n.yaml", "\n".join([
        "cases:",
        "  - id: ok",
        "    variables: {text: hi, score: 0.5}",
        "    expected: '.nan'",
        "  - id: nan",
        "    variables: {text: hi}",
        "    expected:",
        "      score: .nan",
        "  - id: inf",
        "    variables: {text: hi, limit: -.inf}",
        "    expected: {scores: [1, .inf]}",
        "    tags: {weight: .Inf}",
    ]) + "\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "n.yaml")
    fix = ("Fix: write a number, or quote it to keep it as text; a case expecting .nan could "
           "never pass.")
    assert info.value.problems == [
        f"n.yaml:8: cases[1].expected.score: input should be a finite number, got nan. {fix}",
        f"n.yaml:10: cases[2].variables.limit: input should be a finite number, got -inf. "
        f"{fix}",
        f"n.yaml:11: cases[2].expected.scores[1]: input should be a finite number, got inf. "
        f"{fix}",
        f"n.yaml:12: cases[2].tags.weight: input should be a finite number, got inf. {fix}"]
    write(tmp_path / "n.jsonl", '{"id": "big", "expected": {"score": -1e999}}\n'
          '{"id": "fine", "expected": {"score": 1e308}}\n')
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "n.jsonl")
    [problem] = info.value.problems
    assert problem.startswith("n.jsonl:1: not valid JSON: -1e999 is past a 64-bit float's "
                              "range, so it would read as Infinity")


def test_an_expected_column_nested_past_the_bound_is_refused_and_named_briefly(tmp_path):
    """Each dotted part is a level of the expected value: thousands of them made a value
    that failed later with RecursionError; a 1 MiB column name is quoted shortened."""
    deep = "expected" + ".a" * 5000
    write(tmp_path / "d.csv", f"id,text,{deep}\nc1,hi,x\n")
    with pytest.raises(DatasetError) as info:
        datasets.load(tmp_path, "d.csv")
    [problem] = info.value.problems
    assert problem.startswith("d.csv:1: column 3, `expected.a.a.a")
    assert "(10,008 characters)`, nests 5,000 levels; at most 32." in problem
    assert len(problem) < 300
    at_bound = "expected" + ".a" * 32
    write(tmp_path / "ok.csv", f"id,text,{at_bound}\nc1,hi,x\n")
    case = datasets.load(tmp_path, "ok.csv").cases[0]
    value = case.expected
    for _ in range(31):
        value = value["a"]
    assert value == {"a": "x"}
