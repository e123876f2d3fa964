"""`trimtab calls` lists the call log; `trimtab calls show ID` and `trimtab call ID` show one."""

from __future__ import annotations

import json

import trimtab


def recorded(project_dir) -> tuple[str, str]:
    ws = trimtab.connect(project_dir)
    ok = ws.record("complaint-router", {"text": "seal leaks"}, {"team": "packaging"}, 12.0,
                   model="sim-router-1", input_tokens=40, output_tokens=8, cost_micro_usd=90)
    failed = ws.record("complaint-router", {"text": "?"}, None, 30.0, status="error",
                       error="upstream 500", error_kind="server")
    assert ws.flush()
    ws.close()
    return ok, failed


def test_calls_show_and_call_print_the_same_call(cli, project_dir):
    ok, failed = recorded(project_dir)

    shown = json.loads(cli("calls", "show", ok[:18]).stdout)
    assert shown["id"] == ok and shown["request"] == {"text": "seal leaks"}
    assert shown["response"] == {"team": "packaging"} and shown["cost_micro_usd"] == 90
    assert json.loads(cli("call", ok[:18]).stdout) == shown
    assert json.loads(cli("calls", "show", failed).stdout)["error"] == "upstream 500"


def test_calls_still_lists_with_its_options_beside_show(cli, project_dir):
    ok, failed = recorded(project_dir)

    assert [c["id"] for c in json.loads(cli("calls", "--json").stdout)] == [failed, ok]
    errors = json.loads(cli("calls", "--system", "complaint-router", "--errors",
                            "--json").stdout)
    assert [c["id"] for c in errors] == [failed]
    table = cli("calls").stdout
    assert ok[:16] in table and failed[:16] in table and "40→8" in table
    assert "trimtab calls show ID" in cli("calls", "--help").stdout


def test_calls_show_of_an_unknown_or_missing_id_is_a_clear_error(cli, project_dir):
    recorded(project_dir)

    out = cli("calls", "show", "ffffffffffff", expect=2).output
    assert "no call has an id" in out and "Traceback" not in out
    assert "Missing argument 'CALL'" in cli("calls", "show", expect=2).output
    assert "No such command 'nope'" in cli("calls", "nope", expect=2).output


def test_calls_show_prints_the_answer_id_finish_reasons_and_params(cli, live):
    ws, _ = live
    result = ws.system("complaint-router").run(
        {"customer": "ACME", "product": "K-200", "text": "seal leaks"}, params={"seed": 3})
    assert ws.flush()

    shown = json.loads(cli("calls", "show", result.call_id[:18]).stdout)
    assert shown["response_id"] == result.response.id
    assert shown["finish_reasons"] == ["stop"]
    assert shown["params"] == {"temperature": 0, "max_tokens": 200, "seed": 3}
