"""Users of every role, for the governance tests."""

from __future__ import annotations

ROLE_USERS = {role: f"{role}@example.com" for role in
              ("viewer", "reviewer", "operator", "approver", "admin")}


def as_user(monkeypatch, name: str) -> None:
    """Act as ``name`` (the CLI's TRIMTAB_USER), with no token."""
    monkeypatch.setenv("TRIMTAB_USER", name)
    monkeypatch.delenv("TRIMTAB_TOKEN", raising=False)


def with_users(cli, monkeypatch) -> None:
    """The store's first admin (admin@example.com, added in single-user mode)
    adds one user per role; the test then acts as admin@example.com."""
    as_user(monkeypatch, "admin@example.com")
    cli("users", "add", "admin@example.com", "--role", "admin")
    for role, name in ROLE_USERS.items():
        if role != "admin":
            cli("users", "add", name, "--role", role)
