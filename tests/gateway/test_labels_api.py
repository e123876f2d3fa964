"""``POST /api/v1/labels``: true labels from other languages, through a real uvicorn
server on loopback, on SQLite and on PostgreSQL: by call id or tag, scoped by the
gateway key, bounded, and all-or-nothing."""

from __future__ import annotations

import copy

import httpx
import pytest

from tests.helpers.gateway_server import running_gateway

SYSTEM = "complaint-router"


def predictions(ws):
    ids = [ws.record(SYSTEM, {"text": t}, {"team": team}, 5.0, tags={"ticket": f"T-{i}"})
           for i, (t, team) in enumerate([("spark", "electrical"), ("hinge", "mechanical"),
                                          ("paint", "coatings")])]
    assert ws.flush()
    return ids


def test_labels_by_call_id_and_by_tag_with_a_key(live):
    ws, _ = live
    ids = predictions(ws)
    _, secret = ws.create_key("payments", env="production", systems=[SYSTEM])
    auth = {"Authorization": f"Bearer {secret}"}
    with running_gateway(ws) as url:
        by_id = httpx.post(f"{url}/api/v1/labels", headers=auth, json={"labels": [
            {"ref": ids[0], "label": "electrical"}, {"ref": ids[1], "label": "hinges"}]})
        by_tag = httpx.post(f"{url}/api/v1/labels", headers=auth, json={
            "system": SYSTEM, "key": "ticket",
            "labels": [{"ref": "T-1", "label": "mechanical"}, {"ref": "T-2", "label": 7}]})
        no_key = httpx.post(f"{url}/api/v1/labels", json={"labels": [
            {"ref": ids[0], "label": "x"}]})
    assert by_id.status_code == 200, by_id.text
    assert by_id.json() | {"systems": []} == {
        "stored": 2, "new": 2, "relabelled": 0, "skipped": 0, "repeated_keys": 0,
        "systems": [], "correct": 1}
    assert by_tag.status_code == 200, by_tag.text
    assert (by_tag.json()["new"], by_tag.json()["relabelled"]) == (1, 1)
    assert no_key.status_code == 401
    assert ws.label_of(ids[1]).value == "mechanical" and ws.label_of(ids[1]).revision == 2
    assert ws.label_of(ids[2]).value == "7"
    assert ws.label_of(ids[0]).actor == "key:payments"
    [every, _] = ws.label_metrics(SYSTEM)
    assert (every.labels, every.correct) == (3, 2)


def test_a_key_labels_only_its_systems_and_environments(live, project_dir):
    ws, _ = live
    ids = predictions(ws)
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("  support-drafter:\n    description: Drafts replies.\n    owner: s@example.com\n"
                "    tier: 1\n    risk: minimal\n    release: {provider: simulated, "
                "model: sim-drafter-1}\n")
    _, other_system = ws.create_key("drafts", env="production", systems=["support-drafter"])
    _, staging_only = ws.create_key("staging", env="staging")
    body = {"labels": [{"ref": ids[0], "label": "electrical"}]}
    with running_gateway(ws) as url:
        answers = [httpx.post(f"{url}/api/v1/labels", json=body,
                              headers={"Authorization": f"Bearer {secret}"})
                   for secret in (other_system, staging_only)]
    assert [a.status_code for a in answers] == [403, 403]
    assert [a.json()["error"]["code"] for a in answers] == ["system_not_allowed",
                                                            "env_not_allowed"]
    assert ws.label_of(ids[0]) is None


def test_a_key_learns_nothing_of_other_systems_calls_from_row_errors(live, project_dir):
    """Refused before the rows are checked: a 400 per row would tell a key scoped to
    another system which tag values exist, and what the calls' outputs hold."""
    ws, _ = live
    ids = predictions(ws)
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("  support-drafter:\n    description: Drafts replies.\n    owner: s@example.com\n"
                "    tier: 1\n    risk: minimal\n    release: {provider: simulated, "
                "model: sim-drafter-1}\n")
    _, drafts = ws.create_key("drafts", env="production", systems=["support-drafter"])
    auth = {"Authorization": f"Bearer {drafts}"}
    probes = [
        {"system": SYSTEM, "key": "ticket",
         "labels": [{"ref": "T-0", "label": "a"}, {"ref": "CUSTOMER-42", "label": "b"}]},
        {"labels": [{"ref": ids[0], "label": "a"}], "output_field": "no_such_field"},
        {"system": "support-drafter", "labels": [{"ref": ids[0], "label": "a"}]},
    ]
    with running_gateway(ws) as url:
        answers = [httpx.post(f"{url}/api/v1/labels", json=body, headers=auth)
                   for body in probes]
    assert [a.status_code for a in answers] == [403, 403, 403], [a.text for a in answers]
    for answer in answers:
        error = answer.json()["error"]
        assert error["code"] == "system_not_allowed" and "complaint-router" in error["message"]
        assert "T-0" not in error["message"] and "team" not in error["message"]
    assert ws.label_of(ids[0]) is None


@pytest.mark.parametrize("body, status, param, says", [
    ({}, 400, "labels", "required"),
    ({"labels": []}, 400, "labels", "at least 1"),
    ({"labels": [{"ref": "x", "label": {"a": 1}}]}, 400, "labels[0].label", ""),
    ({"labels": [{"ref": "x", "label": "a", "extra": 1}]}, 400, "labels[0].extra", ""),
    ({"labels": [{"ref": "x" * 201, "label": "a"}]}, 400, "labels[0].ref", ""),
    ({"labels": [{"ref": "x", "label": "a"}] * 5001}, 400, "labels", "5000"),
    ({"system": "nope", "labels": [{"ref": "x", "label": "a"}]}, 404, "system", "nope"),
    ({"key": "ticket", "labels": [{"ref": "T-0", "label": "a"}]}, 400, None, "--system"),
    ("a string", 400, None, "JSON object"),
    ({"labels": [{"ref": "IDS0", "label": "electrical"}, {"ref": "0" * 32, "label": "a"},
                 {"ref": "IDS1", "label": " "}]}, 400, "labels",
     "labels[1]: no call 0000"),
])
def test_bad_bodies_name_the_problem_and_store_nothing(live, body, status, param, says):
    ws, _ = live
    ids = predictions(ws)
    body = copy.deepcopy(body)
    if isinstance(body, dict) and body.get("labels") and body["labels"][0]["ref"] == "IDS0":
        body["labels"][0]["ref"], body["labels"][2]["ref"] = ids[0], ids[1]
    with running_gateway(ws) as url:
        answer = httpx.post(f"{url}/api/v1/labels", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert (error["param"], says in error["message"]) == (param, True), error
    assert ws.label_of(ids[0]) is None
