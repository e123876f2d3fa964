"""Promote, rollback, status: what runs where, with an append-only history."""

import json

import pytest

import trimtab
from tests.helpers import edit, promote_through

SYSTEM = "complaint-router"


def three_releases(ws, project_dir):
    prompt = project_dir / "prompts" / "complaint-router.user.md"
    made = []
    for version in ("v1", "v2", "v3"):
        prompt.write_text(f"{version}: {{{{text}}}}\n")
        made.append(ws.release(SYSTEM, note=version)[0])
    return made


def test_promote_makes_a_release_active(ws):
    made, _ = ws.release(SYSTEM)
    ws.promote(SYSTEM, made.short_id, "dev")
    deployment = ws.promote(SYSTEM, made.short_id, "staging", reason="evals green")
    assert deployment.release_id == made.id and deployment.action == "promote"
    assert ws.active_release(SYSTEM, "staging").id == made.id
    assert ws.active_release(SYSTEM, "production") is None


def test_promoting_the_active_release_again_changes_nothing(ws):
    made, _ = ws.release(SYSTEM)
    ws.promote(SYSTEM, made.id, "dev")
    entries = len(ws.audit_log())
    assert ws.promote(SYSTEM, made.id, "dev") is None
    assert len(ws.history(SYSTEM)) == 1 and len(ws.audit_log()) == entries


def test_rollback_walks_back_through_history_not_ping_pong(ws, project_dir):
    r1, r2, r3 = three_releases(ws, project_dir)
    for r in (r1, r2, r3):
        promote_through(ws, SYSTEM, r.id)
    assert ws.rollback(SYSTEM, "production", reason="bad EN routing").release_id == r2.id
    assert ws.rollback(SYSTEM, "production").release_id == r1.id
    with pytest.raises(trimtab.TrimtabError, match="no earlier release to roll back to"):
        ws.rollback(SYSTEM, "production")
    history = ws.history(SYSTEM, "production")
    assert [(d.action, d.release_id) for d in history] == [
        ("promote", r1.id), ("promote", r2.id), ("promote", r3.id),
        ("rollback", r2.id), ("rollback", r1.id),
    ]
    assert history[3].reason == "bad EN routing"


def test_rollback_to_a_named_release_can_itself_be_rolled_back(ws, project_dir):
    r1, r2, r3 = three_releases(ws, project_dir)
    promote_through(ws, SYSTEM, r1.id)
    promote_through(ws, SYSTEM, r3.id)
    assert ws.rollback(SYSTEM, "production", to=r2.short_id).release_id == r2.id
    assert ws.rollback(SYSTEM, "production").release_id == r3.id


def test_promotion_after_rollback_rolls_back_to_the_rolled_back_state(ws, project_dir):
    r1, r2, r3 = three_releases(ws, project_dir)
    promote_through(ws, SYSTEM, r1.id)
    promote_through(ws, SYSTEM, r2.id)
    ws.rollback(SYSTEM, "production")          # r1
    promote_through(ws, SYSTEM, r3.id)    # r3 replaces r1
    assert ws.rollback(SYSTEM, "production").release_id == r1.id


def test_environments_are_independent(ws, project_dir):
    r1, r2, _ = three_releases(ws, project_dir)
    promote_through(ws, SYSTEM, r1.id, "staging")
    promote_through(ws, SYSTEM, r2.id, "staging")
    ws.promote(SYSTEM, r1.id, "production")  # r1 has been active in staging
    ws.rollback(SYSTEM, "staging")
    assert {(d.env, d.release_id) for d in ws.status()} == {
        ("dev", r2.id), ("staging", r1.id), ("production", r1.id),
    }


def unchanged(ws):
    """A snapshot to prove a refused operation wrote nothing."""
    return ([(d.id, d.release_id) for d in ws.status()], [e.seq for e in ws.audit_log()])


def test_promoting_another_systems_release_is_refused(ws, project_dir):
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    block = text[text.index("  complaint-router:"):]
    block = block.replace("complaint-router:", "claims-triage:", 1)
    path.write_text(text + block)
    other, _ = ws.release("claims-triage")
    mine, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, mine.id)
    before = unchanged(ws)
    with pytest.raises(trimtab.TrimtabError, match="belongs to system 'claims-triage'"):
        ws.promote(SYSTEM, other.id, "production")
    with pytest.raises(trimtab.TrimtabError, match="belongs to system 'claims-triage'"):
        ws.rollback(SYSTEM, "production", to=other.id)
    assert unchanged(ws) == before


def test_unknown_env_is_refused_and_suggests(ws):
    made, _ = ws.release(SYSTEM)
    before = unchanged(ws)
    with pytest.raises(trimtab.TrimtabError, match="unknown environment 'prod'") as info:
        ws.promote(SYSTEM, made.id, "prod")
    assert "Did you mean 'production'?" in str(info.value)
    with pytest.raises(trimtab.TrimtabError, match="unknown environment"):
        ws.rollback(SYSTEM, "prod")
    assert unchanged(ws) == before


def test_rollback_with_no_history_is_refused(ws):
    ws.release(SYSTEM)
    before = unchanged(ws)
    with pytest.raises(trimtab.TrimtabError, match="has never been promoted to 'production'"):
        ws.rollback(SYSTEM, "production")
    assert unchanged(ws) == before


def test_unknown_system_is_refused(ws):
    with pytest.raises(trimtab.TrimtabError, match="unknown system 'nope'"):
        ws.promote("nope", "abc", "dev")


def test_rollback_to_the_active_release_is_refused(ws):
    made, _ = ws.release(SYSTEM)
    ws.promote(SYSTEM, made.id, "dev")
    with pytest.raises(trimtab.TrimtabError, match="already active"):
        ws.rollback(SYSTEM, "dev", to=made.id)


def test_deployment_history_is_append_only_in_the_database(ws, database_url):
    from sqlalchemy import create_engine, text

    made, _ = ws.release(SYSTEM)
    ws.promote(SYSTEM, made.id, "dev")
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    for statement in ("UPDATE deployments SET env = 'production'", "DELETE FROM deployments"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()
    assert [d.env for d in ws.history(SYSTEM)] == ["dev"]


def test_ci_run_is_linked(ws, monkeypatch):
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/ai")
    made, _ = ws.release(SYSTEM)
    deployment = ws.promote(SYSTEM, made.id, "dev")
    assert deployment.ci_url == "https://github.com/acme/ai/actions/runs/42"


def test_cli_promote_rollback_status_history(cli, project_dir):
    first = json.loads(cli("release", SYSTEM, "--json").stdout)["id"]
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    second = json.loads(cli("release", SYSTEM, "--json").stdout)["id"]
    for release in (first, second):
        for env in ("dev", "staging"):
            cli("promote", SYSTEM, release[:12], "--env", env)
    cli("promote", SYSTEM, first[:12], "--env", "production")
    out = cli("promote", SYSTEM, second[:12], "-e", "production", "-r", "new wording").stdout
    assert f"{second[:12]} is now active in production" in out
    assert "already active" in cli("promote", SYSTEM, second[:12], "-e", "production").stdout
    out = cli("rollback", SYSTEM, "--env", "production", "--reason", "worse").stdout
    assert f"rolled back production to {first[:12]}" in out
    status = json.loads(cli("status", "--json").stdout)
    assert [(s["env"], s["release_id"], s["action"]) for s in status] == [
        ("dev", second, "promote"), ("production", first, "rollback"),
        ("staging", second, "promote")]
    history = json.loads(cli("history", SYSTEM, "--env", "production", "--json").stdout)
    assert [h["action"] for h in history] == ["promote", "promote", "rollback"]
    assert "rollback" in cli("history", SYSTEM, "--env", "production").stdout
    result = cli("rollback", SYSTEM, "--env", "production", expect=2)
    assert "no earlier release" in result.output and "--to RELEASE" in result.output


def test_status_with_nothing_deployed(cli):
    assert "nothing is deployed yet" in cli("status").stdout


def test_promotion_follows_the_declared_order_of_environments(ws):
    made, _ = ws.release(SYSTEM)
    before = unchanged(ws)
    with pytest.raises(trimtab.TrimtabError, match="never been active in 'staging'") as info:
        ws.promote(SYSTEM, made.id, "production")
    assert f"trimtab promote {SYSTEM} {made.short_id} --env staging" in str(info.value)
    assert "--skip-order" in str(info.value)
    with pytest.raises(trimtab.TrimtabError, match="never been active in 'staging'"):
        ws.promote(SYSTEM, made.id, "production", canary=10)
    with pytest.raises(trimtab.TrimtabError, match="never been active in 'dev'"):
        ws.promote(SYSTEM, made.id, "staging")
    assert unchanged(ws) == before
    ws.promote(SYSTEM, made.id, "dev")  # the first environment is free
    ws.promote(SYSTEM, made.id, "staging")
    assert ws.promote(SYSTEM, made.id, "production").release_id == made.id


def test_having_been_active_before_is_enough_and_rollback_is_not_held(ws, project_dir):
    r1, r2, r3 = three_releases(ws, project_dir)
    promote_through(ws, SYSTEM, r1.id, "staging")
    promote_through(ws, SYSTEM, r2.id, "staging")  # r1 is no longer active in staging
    assert ws.promote(SYSTEM, r1.id, "production").release_id == r1.id
    ws.promote(SYSTEM, r3.id, "dev")
    ws.rollback(SYSTEM, "dev", to=r1.id)  # rollback ignores the order
    assert ws.rollback(SYSTEM, "production", to=r3.id).release_id == r3.id


def test_skip_order_needs_a_reason_and_is_audited(ws):
    made, _ = ws.release(SYSTEM)
    with pytest.raises(trimtab.TrimtabError, match="--skip-order needs a reason"):
        ws.promote(SYSTEM, made.id, "production", skip_order=True)
    deployment = ws.promote(SYSTEM, made.id, "production", skip_order=True,
                            reason="hotfix for the outage")
    assert deployment.reason == "hotfix for the outage"
    entry = ws.audit_log()[-1]
    assert entry.action == "deployment.promote"
    assert json.loads(entry.payload)["skipped_order"] == "staging"
    ws.promote(SYSTEM, made.id, "dev")
    assert "skipped_order" not in json.loads(ws.audit_log()[-1].payload)  # nothing skipped


def test_the_order_is_the_one_the_project_declares(project_dir, database_url):
    edit(project_dir / "trimtab.yaml", "environments: [dev, staging, production]",
         "environments: [staging, production]")
    edit(project_dir / "trimtab.yaml", "allow_simulated: [dev, staging, production]",
         "allow_simulated: [staging, production]")
    reopened = trimtab.connect(project_dir, database_url=database_url)
    made, _ = reopened.release(SYSTEM)
    reopened.promote(SYSTEM, made.id, "staging")  # now the first: free
    assert reopened.promote(SYSTEM, made.id, "production").release_id == made.id
    reopened.close()


def test_cli_promote_out_of_order(cli):
    made = json.loads(cli("release", SYSTEM, "--json").stdout)["id"][:12]
    result = cli("promote", SYSTEM, made, "--env", "production", expect=2)
    assert "never been active in 'staging'" in result.output
    assert f"trimtab promote {SYSTEM} {made} --env staging" in result.output
    result = cli("promote", SYSTEM, made, "--env", "production", "--skip-order", expect=2)
    assert "needs a reason" in result.output
    out = cli("promote", SYSTEM, made, "--env", "production", "--skip-order",
              "--reason", "hotfix").stdout
    assert "now active in production" in out
    audit = json.loads(cli("audit", "log", "--json").stdout)
    assert audit[-1]["payload"]["skipped_order"] == "staging"


def test_status_takes_the_system_positionally(cli, project_dir):
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    path.write_text(text + text[text.index("  complaint-router:"):].replace(
        "complaint-router:", "claims-triage:", 1))
    for system in (SYSTEM, "claims-triage"):
        made = json.loads(cli("release", system, "--json").stdout)["id"]
        cli("promote", system, made[:12], "--env", "dev")
    only = json.loads(cli("status", "claims-triage", "--json").stdout)
    assert [s["system"] for s in only] == ["claims-triage"]
    assert SYSTEM not in cli("status", "claims-triage").stdout
    assert SYSTEM in cli("status").stdout
    assert "unknown system 'nope'" in cli("status", "nope", expect=2).output


def test_history_numbers_rows_the_same_with_or_without_env(cli, project_dir):
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    path.write_text(text + text[text.index("  complaint-router:"):].replace(
        "complaint-router:", "claims-triage:", 1))
    other = json.loads(cli("release", "claims-triage", "--json").stdout)["id"]
    cli("promote", "claims-triage", other[:12], "--env", "dev")  # takes deployment id 1
    made = json.loads(cli("release", SYSTEM, "--json").stdout)["id"]
    for env in ("dev", "staging", "production"):
        cli("promote", SYSTEM, made[:12], "--env", env)
    everything = json.loads(cli("history", SYSTEM, "--json").stdout)
    assert [(h["number"], h["env"]) for h in everything] == [
        (1, "dev"), (2, "staging"), (3, "production")]
    production = json.loads(cli("history", SYSTEM, "--env", "production", "--json").stdout)
    assert [h["number"] for h in production] == [3]
    lines = cli("history", SYSTEM).stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]


def test_active_releases_reads_what_active_release_reads_for_each_env(ws, project_dir):
    r1, r2, r3 = three_releases(ws, project_dir)
    promote_through(ws, SYSTEM, r1.id)
    promote_through(ws, SYSTEM, r2.id)
    ws.rollback(SYSTEM, "production")
    ws.promote(SYSTEM, r3.id, "dev")
    envs = ["dev", "staging", "production", "nowhere"]
    found = ws.active_releases(SYSTEM, envs)
    assert {env: r and r.id for env, r in found.items()} == {
        env: (ws.active_release(SYSTEM, env) or None) and ws.active_release(SYSTEM, env).id
        for env in envs}
    assert (found["dev"].id, found["staging"].id, found["production"].id) == (r3.id, r2.id, r1.id)
    assert found["nowhere"] is None
    assert ws.active_releases("no-such-system", ["dev"]) == {"dev": None}
