"""Who made a change: TRIMTAB_USER, else git's user.email, else the OS user."""

import getpass
import subprocess

from trimtab.actor import current_actor


def test_trimtab_user_wins(monkeypatch):
    monkeypatch.setenv("TRIMTAB_USER", "ci-bot@example.com")
    assert current_actor() == "ci-bot@example.com"


def test_git_email_then_os_user(monkeypatch, tmp_path):
    monkeypatch.delenv("TRIMTAB_USER")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    assert current_actor() == getpass.getuser()
    subprocess.run(["git", "config", "--global", "user.email", "bob@example.com"], check=True)
    assert current_actor() == "bob@example.com"
