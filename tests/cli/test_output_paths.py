"""A path a command cannot write to is one line naming the option and the fix, exit 2,
found before the work it would follow (an eval's provider calls), never a traceback."""

from __future__ import annotations

import pytest

from trimtab.workspace import Workspace

SYSTEM = "complaint-router"


@pytest.fixture
def places(tmp_path):
    """(a file, a folder): a file cannot hold a folder, a folder is no file."""
    a_file, a_folder = tmp_path / "a-file", tmp_path / "a-folder"
    a_file.write_text("keep me")
    a_folder.mkdir()
    return a_file, a_folder


def refused(cli, *args: str) -> str:
    output = cli(*args, expect=2).output
    assert output.startswith("error: ") and "Fix:" in output and "Traceback" not in output
    return output


@pytest.mark.parametrize("option", ["--junit", "--markdown"])
def test_eval_report_paths_are_checked_before_any_provider_call(cli, places, monkeypatch,
                                                                option):
    a_file, a_folder = places

    def no_calls(*args, **kwargs):
        raise AssertionError("the eval ran although its report could not be written")

    monkeypatch.setattr(Workspace, "eval", no_calls)
    out = refused(cli, "eval", SYSTEM, option, str(a_file / "eval.xml"))
    assert f"{option} {a_file / 'eval.xml'}: {a_file} is a file, not a folder" in out
    out = refused(cli, "eval", SYSTEM, option, str(a_folder))
    assert f"{option} {a_folder}: is a folder, not a file" in out
    out = refused(cli, "eval", SYSTEM, option, str(a_folder / "missing" / "eval.xml"))
    assert "does not exist" in out


def test_a_report_that_fails_to_write_after_the_eval_exits_2_with_the_summary(
        cli, places, monkeypatch):
    """A race after the check (the folder removed, a full disk) is not a failed gate."""
    from trimtab.cli import evals

    _, a_folder = places
    monkeypatch.setattr(evals, "check_out_file", lambda path, option: None)
    result = cli("eval", SYSTEM, "--junit", str(a_folder), expect=2)
    assert "gate: passed" in result.output  # the summary is printed first
    assert f"error: --junit {a_folder}: cannot write it (Is a directory)" in result.output


def test_docs_out_must_be_a_folder(cli, places):
    a_file, _ = places
    assert f"{a_file} is a file, not a folder" in refused(cli, "docs", SYSTEM, "--out",
                                                          str(a_file / "sub"))
    assert f"--out {a_file}: {a_file} is a file" in refused(cli, "docs", SYSTEM, "--out",
                                                            str(a_file))
    assert a_file.read_text() == "keep me"


def test_docs_out_where_no_folder_can_be_made(cli):
    out = refused(cli, "docs", SYSTEM, "--out", "/proc/no-such-folder")
    assert "--out /proc/no-such-folder: cannot write it" in out


def test_evidence_out_under_a_file(cli, places):
    a_file, _ = places
    out = refused(cli, "export", "evidence", SYSTEM, "--since", "30d", "--out",
                  str(a_file / "sub"))
    assert f"--out {a_file / 'sub'}: {a_file} is a file, not a folder" in out


def test_portfolio_plan_must_be_a_file_in_a_folder(cli, places):
    a_file, a_folder = places
    assert f"--plan {a_folder}: is a folder" in refused(
        cli, "assess", "--portfolio", "--plan", str(a_folder))
    assert f"{a_file} is a file, not a folder" in refused(
        cli, "assess", "--portfolio", "--plan", str(a_file / "plan.md"))


def test_an_existing_file_in_a_folder_one_cannot_write_is_written_in_place(
        places, monkeypatch, tmp_path):
    """`--junit /dev/stdout`: the file exists and takes writes; its folder does not
    (root passes every access check, so the folders are made read-only here)."""
    import os

    from trimtab.cli import output
    from trimtab.errors import TrimtabError

    a_file, a_folder = places
    real = os.access
    monkeypatch.setattr(output.os, "access", lambda path, mode: False if str(path) == str(
        tmp_path) else real(path, mode))
    output.check_out_file(a_file, "--junit")  # exists, writable: fine
    with pytest.raises(TrimtabError, match="permission denied"):
        output.check_out_file(tmp_path / "new.xml", "--junit")  # would have to be made
    with pytest.raises(TrimtabError, match="permission denied"):  # written beside first
        output.check_out_file(a_file, "--out", makes_folder=True)
