"""Recording calls at chosen times and reading alert states, for the alert tests."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)


def add_yaml(project_dir, text: str) -> None:
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text() + "\n" + textwrap.dedent(text))


def record(ws, count, *, at, errors=0, latency=100.0, env="production", cost=None,
           system="complaint-router"):
    ids = [ws.record(system, {"i": i}, {"team": "seals"}, latency, env=env, time=at,
                     status="error" if i < errors else "ok", cost_micro_usd=cost)
           for i in range(count)]
    assert ws.flush()
    return ids


def state_of(cycle, rule, system="complaint-router"):
    [found] = [s for s in cycle.statuses if s.rule == rule and s.system == system]
    return found
