"""Entry-point plugins: a real distribution, built and installed from tests/plugins/,
adds a provider kind and a channel kind that trimtab.yaml uses like built-ins."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import trimtab
from tests.helpers import edit, promote_through
from trimtab import plugins
from trimtab.errors import TrimtabError

ROOT = Path(__file__).resolve().parents[1]
ECHO = Path(__file__).parent / "plugins" / "trimtab-echo"


@pytest.fixture(scope="module")
def echo_installed(tmp_path_factory) -> Path:
    """tests/plugins/trimtab-echo built and installed (pip, offline) into a folder of its own."""
    work = tmp_path_factory.mktemp("echo")
    source = shutil.copytree(ECHO, work / "source")  # the build leaves files beside the source
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                   check=True, capture_output=True)
    return target


@pytest.fixture
def echo_plugin(echo_installed):
    """The plugin on sys.path, as if installed in the environment, for one test."""
    sys.path.insert(0, str(echo_installed))
    plugins.refresh()
    yield echo_installed
    sys.path.remove(str(echo_installed))
    sys.modules.pop("trimtab_echo", None)
    plugins.refresh()


ECHO_PROVIDER = """providers:
  parrot:
    kind: echo
    options: {prefix: "heard: "}
"""


def use_echo(project_dir: Path) -> None:
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}\n", ECHO_PROVIDER)
    edit(path, "      provider: simulated\n      model: sim-router-1",
         "      provider: parrot\n      model: parrot-1")


def test_trimtabs_own_kinds_register_through_entry_points():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group, table in plugins.BUILTIN.items():
        # The fallback table for a stale install says exactly what pyproject.toml does.
        assert declared.get(group, {}) == table
        for name, value in table.items():
            found = plugins.find(group, name)
            assert found is not None and found.value == value
            assert found.distribution == "trimtab" and found.version == trimtab.__version__
    assert plugins.load(plugins.PROVIDERS, "openai").__name__ == "OpenAIProvider"
    assert plugins.names(plugins.CHANNELS) == ["apprise", "webhook"]


def test_without_its_own_metadata_trimtab_still_knows_its_kinds_and_says_so(tmp_path):
    """A source tree on sys.path, or an install from before the entry points: the
    built-in table stands in, with a warning that says to reinstall."""
    shutil.copytree(ROOT / "src" / "trimtab", tmp_path / "trimtab")  # no *.dist-info beside
    script = ("import sys; sys.path[:0] = [sys.argv[1]]; from trimtab import plugins; "
              "print(plugins.names(plugins.PROVIDERS), plugins.names(plugins.CHANNELS), "
              "plugins.find(plugins.PROVIDERS, 'openai').distribution)")
    done = subprocess.run([sys.executable, "-S", "-c", script, str(tmp_path)],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[0] == ("['anthropic', 'openai', 'simulated'] "
                                          "['apprise', 'webhook'] trimtab")
    assert "entry points are missing" in done.stderr and "pip install -e ." in done.stderr


def test_validate_refuses_an_unknown_kind_where_it_is_written(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}\n", "providers:\n  main:\n    kind: opnai\n"
         "  sim:\n    kind: simulated\n    options: {region: eu}\n"
         "channels:\n  ops:\n    kind: webhok\n    url: https://example.com/hook\n")
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    problems = info.value.problems
    assert any(p.startswith("trimtab.yaml:") and "providers.main.kind: unknown provider kind "
               "'opnai'. Did you mean 'openai'?" in p and "trimtab plugins" in p
               for p in problems), problems
    assert any("channels.ops.kind: unknown channel kind 'webhok'. Did you mean 'webhook'?" in p
               for p in problems), problems
    assert any("providers.sim.options: `options:` is read by plugin kinds only" in p
               for p in problems), problems
    line = path.read_text().splitlines().index("    kind: opnai") + 1
    assert any(p.startswith(f"trimtab.yaml:{line}:") for p in problems), problems


def test_without_the_package_its_kind_is_unknown(project_dir):
    use_echo(project_dir)
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(project_dir / "trimtab.yaml")
    assert "unknown provider kind 'echo'" in str(info.value)


def test_a_plugin_package_adds_a_provider_kind_and_a_channel_kind(echo_plugin, cli, ws,
                                                                  project_dir, tmp_path):
    events = tmp_path / "events.jsonl"
    use_echo(project_dir)
    with (project_dir / "trimtab.yaml").open("a") as out:
        out.write(f"channels:\n  log:\n    kind: echo-file\n    url: file://{events}\n")

    assert "ok" in cli("validate").stdout

    release, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", release.id, "production")
    router = ws.system("complaint-router", env="production")
    result = router.run({"customer": "ACME", "product": "K-200", "text": "It sparks."})
    assert result.text.startswith("heard: ") and "It sparks." in result.text
    assert result.attempts[-1]["provider"] == "parrot" and not result.fallback_used

    async def streamed() -> str:
        return "".join([chunk.content or "" async for chunk in router.astream(
            {"customer": "ACME", "product": "K-200", "text": "Streams too."})])

    import asyncio

    assert asyncio.run(streamed()).startswith("heard: ")
    ws.flush()
    assert {c.provider for c in ws.calls()} == {"parrot"}

    assert "sent a test message through log" in cli("alerts", "test", "log").stdout
    [event] = [json.loads(line) for line in events.read_text().splitlines()]
    assert event["test"] is True and event["kind"] == "trimtab.alert"

    listed = {(r["group"], r["name"]): r for r in json.loads(cli("plugins", "--json").stdout)}
    for key in [("trimtab.providers", "echo"), ("trimtab.channels", "echo-file")]:
        assert listed[key]["distribution"] == "trimtab-echo"
        assert listed[key]["version"] == "0.1.0" and listed[key]["loads"] is True
    assert listed[("trimtab.providers", "openai")]["distribution"] == "trimtab"
    broken = listed[("trimtab.scorers", "broken")]
    assert broken["loads"] is False and "trimtab-echo 0.1.0" in broken["error"]
    table = cli("plugins").stdout
    assert "echo-file" in table and "trimtab-echo" in table and "no" in table


def test_a_broken_plugin_is_a_clear_error_naming_its_package(echo_plugin):
    assert "broken" in plugins.names(plugins.SCORERS)
    with pytest.raises(TrimtabError) as info:
        plugins.load(plugins.SCORERS, "broken")
    message = str(info.value)
    assert "scorer 'broken' comes from trimtab-echo 0.1.0 but does not load" in message
    assert "ModuleNotFoundError" in message and "pip install --upgrade trimtab-echo" in message
    with pytest.raises(TrimtabError, match="unknown scorer 'brokn'. Did you mean 'broken'"):
        plugins.load(plugins.SCORERS, "brokn")
