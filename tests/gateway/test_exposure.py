"""What the gateway and the store expose: /metrics behind a key once keys exist,
keys scoped to environments, and a store and artefact folder only the owner reads."""

from __future__ import annotations

import stat

import httpx

import trimtab
from tests.helpers import edit
from tests.helpers.gateway_server import running_gateway
from trimtab.releases.artefacts import ArtefactStore

SYSTEM = "complaint-router"
HELLO = {"model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "It leaks."}]}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_metrics_need_a_key_once_keys_exist_unless_the_project_opens_them(live, project_dir):
    ws, _ = live
    with running_gateway(ws) as url:
        assert httpx.get(f"{url}/metrics").status_code == 200  # no key anywhere: open
    _, secret = ws.create_key("prometheus", env="production")
    with running_gateway(ws) as url:
        refused = httpx.get(f"{url}/metrics")
        scraped = httpx.get(f"{url}/metrics", headers=bearer(secret))
    assert refused.status_code == 401 and "trimtab_" not in refused.text
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert scraped.status_code == 200 and "trimtab_recorder" in scraped.text
    edit(project_dir / "trimtab.yaml", "providers: {}", "gateway:\n  metrics: public\n"
         "providers: {}")
    with running_gateway(ws) as url:
        assert httpx.get(f"{url}/metrics").status_code == 200


def test_a_key_calls_only_its_environments(live, cli):
    ws, release = live
    ws.promote(SYSTEM, release.id, "staging")
    _, staging = ws.create_key("staging-app", env="staging")
    _, both = ws.create_key("qa", env=["staging", "production"])
    _, anywhere = ws.create_key("ops", env="staging", any_env=True)
    with running_gateway(ws) as url:
        def call(secret, env=None):
            headers = {**bearer(secret), **({"X-Trimtab-Env": env} if env else {})}
            return httpx.post(f"{url}/v1/chat/completions", json=HELLO, headers=headers,
                              timeout=30)

        assert call(staging).status_code == 200
        refused = call(staging, "production")
        record = httpx.post(f"{url}/api/v1/records", headers=bearer(staging), json={
            "system": SYSTEM, "inputs": {"a": 1}, "output": "x", "latency_ms": 1,
            "env": "production"})
        assert call(both, "production").status_code == 200
        assert call(anywhere, "production").status_code == 200
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "env_not_allowed" and error["param"] == "X-Trimtab-Env"
    assert "trimtab keys create" in error["message"]
    assert record.status_code == 403 and record.json()["error"]["param"] == "env"
    ws.flush()
    assert {c.env for c in ws.calls()} == {"staging", "production"}
    assert len([c for c in ws.calls() if c.env == "production"]) == 2
    output = cli("keys", "create", "ci", "--env", "dev", "--env", "staging").output
    assert "default env dev; may call dev, staging" in output
    [key] = [k for k in ws.keys() if k.name == "ci"]
    assert key.envs == ["dev", "staging"] and key.default_env == "dev"


def test_the_store_file_and_the_artefact_folder_are_the_owners_only(project_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'trimtab.db'}"
    with trimtab.connect(project_dir, database_url=url) as ws:
        ws.sync()
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    for name in ("trimtab.db", "trimtab.db-wal", "trimtab.db-shm"):
        path = tmp_path / "fresh" / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    store = ArtefactStore(str(tmp_path / "artefacts"))
    stored = store.put(model)
    assert stat.S_IMODE((tmp_path / "artefacts").stat().st_mode) == 0o700
    kept = tmp_path / "artefacts" / "sha256" / stored.sha256[:2] / stored.sha256
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
