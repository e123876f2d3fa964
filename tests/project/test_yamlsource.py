"""trimtab.yaml comes from outside: loading it is bounded in bytes, depth and
alias expansion, and every refusal names file, line and fix, never a traceback."""

import time

import pytest

import trimtab
from trimtab.project import yamlsource


def problems_of(path):
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    return info.value.problems


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_file_is_refused_quickly(tmp_path):
    path = tmp_path / "trimtab.yaml"
    path.write_text(billion_laughs())
    started = time.monotonic()
    [problem] = problems_of(path)
    assert time.monotonic() - started < 10
    assert problem.startswith("trimtab.yaml:")
    assert "aliases (*name) expand to more than 100,000 values" in problem
    assert "Fix:" in problem


@pytest.mark.parametrize("text", ["channels: &a [*a]\n", "channels: &a {x: *a}\n"])
def test_an_alias_inside_its_own_value_is_an_error_not_a_recursion(tmp_path, text):
    located = yamlsource.load(tmp_path / "trimtab.yaml", text)
    [problem] = located.problems
    assert problem.startswith("trimtab.yaml:1:11: channels")
    assert "the alias *a is used inside the value &a it names" in problem


@pytest.mark.parametrize("depth", [150, 5_000, 200_000])
def test_deep_nesting_is_refused_with_a_position(tmp_path, depth):
    path = tmp_path / "trimtab.yaml"
    path.write_text("project: " + "[" * depth + "]" * depth + "\n")
    [problem] = problems_of(path)
    assert problem.startswith("trimtab.yaml:1:")
    assert "nest" in problem and "Fix: flatten the structure." in problem


def test_a_project_file_over_the_byte_cap_is_refused_before_parsing(tmp_path):
    path = tmp_path / "trimtab.yaml"
    path.write_text("project: demo\nnotes: " + "x" * (yamlsource.MAX_BYTES + 1) + "\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"trimtab.yaml: the file is {path.stat().st_size:,} bytes; "
                              f"at most {yamlsource.MAX_BYTES:,}.")


def test_aliases_that_expand_modestly_still_load(tmp_path):
    located = yamlsource.load(tmp_path / "trimtab.yaml",
                              "base: &base {temperature: 0}\na: *base\nb: *base\n")
    assert located.problems == []
    assert located.data == {"base": {"temperature": 0}, "a": {"temperature": 0},
                            "b": {"temperature": 0}}
    assert located.where(("b", "temperature")) == "trimtab.yaml:1:27"  # the value it repeats


@pytest.mark.parametrize(("text", "expected"), [
    ("when: 2020-13-45\n", "trimtab.yaml:1:7: when: '2020-13-45' cannot be read (month must be"),
    ("x: !custom thing\n", "trimtab.yaml:1:4: x: 'thing' cannot be read (could not determine"),
    ("? [a, b]\n: 1\n", "trimtab.yaml:1:3: (top level): a key must be plain text"),
])
def test_values_yaml_cannot_build_are_problems_with_positions(tmp_path, text, expected):
    [problem] = yamlsource.load(tmp_path / "trimtab.yaml", text).problems
    assert problem.startswith(expected)


def test_a_merge_key_is_named_as_unsupported_not_as_text_to_quote(tmp_path):
    located = yamlsource.load(tmp_path / "trimtab.yaml", "base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n")
    [problem] = located.problems
    assert problem.startswith("trimtab.yaml:3:3: x")
    assert "merge keys (`<<`) are not read in this file. Fix: write the keys out." in problem
