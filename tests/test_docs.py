"""The docs stay honest: every command is documented, with an example, and the
generated CLI reference matches the CLI.

Adding a command without docs fails here. The fix is always the same: give its
docstring an "Example:" block, mention it in README.md's CLI tour, and run
    python -m trimtab.cli.reference --write docs/cli.md
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from trimtab.cli import app
from trimtab.cli.reference import REGENERATE, render

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLI_MD = ROOT / "docs" / "cli.md"


def commands(cli: typer.Typer) -> dict[str, object]:
    """Every runnable command by path ("trimtab audit verify"), groups walked into.

    Walked here, independently of trimtab.cli.reference, so a bug in the
    generator cannot hide a command from these checks.
    """
    found: dict[str, object] = {}

    def walk(command, path: str) -> None:
        subcommands = getattr(command, "commands", None)
        # A group that runs on its own (`trimtab calls`) is a command too.
        if subcommands is None or (path != "trimtab" and command.invoke_without_command):
            found[path] = command
        for name, sub in (subcommands or {}).items():
            if not sub.hidden:
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(cli), "trimtab")
    return found


def mentions(text: str, path: str) -> bool:
    """`trimtab release` must not count as mentioned because `trimtab releases` is."""
    return re.search(rf"(?<![\w-]){re.escape(path)}(?![\w-])", text) is not None


def has_example(help_text: str, path: str) -> bool:
    """An "Example" heading followed by a line that runs this very command."""
    _, marker, after = help_text.partition("Example")
    return bool(marker) and any(mentions(line, path) for line in after.splitlines())


def missing_from_readme(cli: typer.Typer, readme: str) -> list[str]:
    return [path for path in commands(cli) if not mentions(readme, path)]


def missing_examples(cli: typer.Typer) -> list[str]:
    return [path for path, cmd in commands(cli).items() if not has_example(cmd.help or "", path)]


def missing_sections(cli: typer.Typer, reference: str) -> list[str]:
    headings = set(re.findall(r"^## (.+?)\s*$", reference, flags=re.MULTILINE))
    return [path for path in commands(cli) if path not in headings]


# --- the checks, on the real CLI ---------------------------------------------


def test_cli_reference_is_up_to_date():
    assert CLI_MD.exists(), f"docs/cli.md is missing. Fix: run `{REGENERATE}`"
    assert CLI_MD.read_text(encoding="utf-8") == render(), (
        f"docs/cli.md is out of date with the CLI. Fix: run `{REGENERATE}` and commit it."
    )


def test_every_command_is_in_the_readme():
    missing = missing_from_readme(app, README.read_text(encoding="utf-8"))
    assert not missing, (
        f"README.md does not mention {', '.join(missing)}. "
        "Fix: add each to the CLI tour, with an example."
    )


def test_every_command_help_has_an_example():
    missing = missing_examples(app)
    assert not missing, (
        f"no 'Example:' block running the command in the help of {', '.join(missing)}. "
        "Fix: end the docstring with 'Example:' and an indented `trimtab ...` line."
    )


def test_every_command_has_a_section_in_the_cli_reference():
    missing = missing_sections(app, CLI_MD.read_text(encoding="utf-8"))
    assert not missing, (
        f"docs/cli.md has no '## ' section for {', '.join(missing)}. Fix: run `{REGENERATE}`."
    )


def test_groups_and_their_commands_are_all_found():
    found = commands(app)
    assert {"trimtab promote", "trimtab audit verify", "trimtab db upgrade"} <= found.keys()
    assert "trimtab audit" not in found  # a group that only holds commands is not one
    assert "trimtab" not in found


def test_readme_quick_start_is_the_two_scripts():
    readme = README.read_text(encoding="utf-8")
    start = readme.index("## Quick start")
    first_block = re.search(r"```bash\n(.*?)```", readme[start:], flags=re.DOTALL)
    assert first_block is not None
    assert first_block.group(1).split("\n")[:-1] == ["scripts/demo", "scripts/test"]
    for script in ("scripts/demo", "scripts/test"):
        assert (ROOT / script).is_file(), script


@pytest.mark.parametrize("page", ["README.md", "CHANGELOG.md", *(
    f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))])
def test_relative_links_point_at_files_that_exist(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (ROOT / page).parent.joinpath(target).exists(), f"{page} links to {target}"


# --- the checks catch an undocumented command ------------------------------------


@pytest.fixture
def app_with_new_command() -> typer.Typer:
    """The real CLI plus one command nobody documented, without touching the real app."""
    extended = typer.Typer(add_completion=False)
    extended.registered_callback = app.registered_callback
    extended.registered_commands = list(app.registered_commands)
    extended.registered_groups = list(app.registered_groups)
    extended.info = app.info

    @extended.command("frobnicate")
    def frobnicate() -> None:
        """Do something new."""

    audit_plus = typer.Typer()

    @audit_plus.command("export")
    def export() -> None:
        """Export the audit trail.

        Example:

            trimtab audit log
        """

    extended.add_typer(audit_plus, name="audit2")
    return extended


def test_the_checks_fail_for_an_undocumented_command(app_with_new_command):
    readme = README.read_text(encoding="utf-8")
    reference = CLI_MD.read_text(encoding="utf-8")
    new = {"trimtab frobnicate", "trimtab audit2 export"}

    def flagged(check, *args) -> set[str]:
        """What the check reports for the extended CLI beyond the real one."""
        return set(check(app_with_new_command, *args)) - set(check(app, *args))

    assert flagged(missing_from_readme, readme) == new
    # frobnicate has no example; export's example runs another command.
    assert flagged(missing_examples) == new
    assert flagged(missing_sections, reference) == new
    assert render(app_with_new_command) != reference
    assert "## trimtab audit2 export" in render(app_with_new_command)


#: The audit actions written from a formatted string, by what they expand to.
FORMATTED_ACTIONS = {
    "alert.{document['state']}": ["alert.firing", "alert.resolved"],
    "approval.{decision}": ["approval.approve", "approval.reject"],
    "approval.{state}": ["approval.approved", "approval.applied", "approval.rejected",
                         "approval.expired"],
    "deployment.{mode}": ["deployment.canary", "deployment.shadow"],
}


def test_every_audit_action_is_in_the_audit_page():
    """An auditor reads docs/audit.md to know what the trail holds: an action the
    code writes but the page leaves out (key.create, drift.check, label.add were)
    is a change nobody knows to look for."""
    literal, formatted = set(), set()
    for source in (ROOT / "src" / "trimtab").rglob("*.py"):
        for f, action in re.findall(r'\baction=(f?)"([^"]+)"', source.read_text()):
            if f:
                formatted.add(action)
            elif re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", action):
                literal.add(action)
    assert formatted == set(FORMATTED_ACTIONS), "name what a new formatted action expands to"
    page = (ROOT / "docs" / "audit.md").read_text()
    table = page[page.index("## What is audited"):page.index("## What an entry holds")]
    expected = literal | {a for expanded in FORMATTED_ACTIONS.values() for a in expanded}
    assert len(expected) > 40
    assert sorted(a for a in expected if f"`{a}`" not in table) == []
