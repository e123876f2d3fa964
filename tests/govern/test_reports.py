"""Incident report drafts: the fields NIS2 Art. 23 and AI Act Art. 73 ask for, filled
from evidence, each with its source; what trimtab cannot know marked missing."""

import json
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from trimtab.govern.reports import FORMATS

SYSTEM = "complaint-router"


def value(report, name):
    [found] = [f for f in report.fields if f.name == name]
    return found


@pytest.fixture
def incident(live):
    ws, release = live
    now = datetime.now(UTC)
    for i in range(4):
        ws.record(SYSTEM, {"text": f"complaint {i}"}, {"team": "packaging"}, 20.0,
                  env="production", user=f"u{i % 2}", time=now - timedelta(hours=3))
    ws.record(SYSTEM, {"text": "x"}, None, 5.0, env="production", status="error",
              error="upstream 503", time=now - timedelta(hours=1))
    ws.record(SYSTEM, {"text": "long ago"}, {"team": "x"}, 5.0, env="production",
              time=now - timedelta(days=30))  # outside the evidence window
    assert ws.flush()
    made = ws.open_incident(SYSTEM, severity="high", summary="safety complaints misrouted",
                            categories=["ai-act-serious", "nis2-significant"])
    ws.note_incident(made.id, "routing falls back to humans")
    return ws, release, made


def test_the_early_warning_fills_what_is_known_and_marks_the_judgements(incident):
    ws, release, made = incident
    report = ws.incident_report(made.id, "nis2-early-warning")
    assert report.deadline["name"] == "early warning"
    assert datetime.fromisoformat(report.deadline["due"]) == made.aware_at + timedelta(hours=24)
    assert value(report, "Summary").value == "safety complaints misrouted"
    assert value(report, "Became aware").value == made.aware_at
    assert value(report, "Calls in the window").value == 5  # not the 30-day-old one
    assert value(report, "Failed calls in the window").value == 1
    assert value(report, "Distinct user ids in the window").value == 2
    assert value(report, "Calls per release").value == {release.short_id: 5}
    assert value(report, "Owner").value == ws.project.spec.systems[SYSTEM].owner
    gaps = {f.name for f in report.gaps}
    assert gaps == {"Entity (legal name, sector, Member State of establishment)",
                    "Contact for this report", "Suspected unlawful or malicious act",
                    "Possible cross-border impact"}
    assert all(f.source for f in report.fields)  # every value and gap says where or what


def test_the_notification_and_final_report_follow_the_incident(incident):
    ws, _, made = incident
    notification = ws.incident_report(made.id, "nis2-notification")
    actions = value(notification, "Actions so far").value
    assert any("routing falls back to humans" in a for a in actions)
    assert any(a.startswith("frozen ") for a in actions)  # the freeze, with its pins
    assert value(notification, "Indicators of compromise").missing
    assert "1 failed (20.0%)" in value(notification, "Severity and impact").value
    final = ws.incident_report(made.id, "nis2-final")
    assert value(final, "Type of threat or root cause").missing  # not closed: not guessed
    ws.unfreeze_incident(made.id, reason="contained")
    ws.close_incident(made.id, root_cause="prompt dropped the safety label",
                      actions="eval case added and gated")
    final = ws.incident_report(made.id, "nis2-final")
    assert value(final, "Type of threat or root cause").value == \
        "prompt dropped the safety label"
    assert value(final, "Measures applied").value[0] == "eval case added and gated"
    assert value(final, "Incident handled (closed)").value is not None
    assert value(final, "Cross-border impact").missing


def test_the_ai_act_report(incident, project_dir):
    ws, release, made = incident
    report = ws.incident_report(made.id, "ai-act-serious-incident")
    assert report.deadline["due"] == (made.aware_at + timedelta(days=15)).isoformat()
    assert value(report, "Release active when the team became aware").value == {
        "dev": release.short_id, "production": release.short_id,
        "staging": release.short_id}
    assert value(report, "Models used by those releases").value == [
        "sim-router-1", "sim-router-small"]  # the primary and its fallback
    assert value(report, "Risk level").value == "limited"
    for name in ("Kind (Art. 3(49))", "When it occurred", "Member States where it occurred",
                 "EU database registration number", "Persons or property affected",
                 "Causal link with the AI system", "Intended purpose"):
        assert value(report, name).missing, name
    assert "still frozen" in value(
        report, "System not altered before informing the authority (Art. 73(6))").value[0]
    assert value(report, "Evidence kept (legal hold)").value[0].endswith("UTC, open")
    death = ws.open_incident(SYSTEM, severity="critical", summary="x", freeze=False,
                             categories=["ai-act-death"])
    drafted = ws.incident_report(death.id, "ai-act-serious-incident")
    assert value(drafted, "Kind (Art. 3(49))").value[0].startswith("(a) death")
    assert value(drafted, "System not altered before informing the authority "
                          "(Art. 73(6))").missing  # not frozen: said, not assumed
    assert drafted.deadline["due"] == (death.aware_at + timedelta(days=10)).isoformat()


def test_every_format_renders_and_a_bad_one_is_named(incident):
    ws, _, made = incident
    for fmt in FORMATS:
        report = ws.incident_report(made.id, fmt)
        text = report.markdown()
        assert text.startswith("# ") and "**MISSING**" in text
        assert f"## Gaps ({len(report.gaps)})" in text
        assert json.loads(json.dumps(report.to_dict()))["gaps"]
    with pytest.raises(trimtab.TrimtabError, match="--format 'gdpr'"):
        ws.incident_report(made.id, "gdpr")
    with pytest.raises(trimtab.TrimtabError, match="no incident matches"):
        ws.incident_report("ffffffff", "nis2-final")


def test_cli_report(cli, incident, tmp_path):
    _, _, made = incident
    text = cli("incident", "report", made.id, "--format", "nis2-early-warning").stdout
    assert text.startswith("# NIS2 early warning") and "**MISSING**" in text
    data = json.loads(cli("incident", "report", made.id, "-f", "nis2-final", "--json").stdout)
    assert data["format"] == "nis2-final" and "Cause: Type of threat or root cause" in data["gaps"]
    out = tmp_path / "report.md"
    done = cli("incident", "report", made.id, "-f", "ai-act-serious-incident", "--out",
               str(out)).stdout
    assert "gaps to fill" in done and out.read_text().startswith("# EU AI Act")
    assert "use one of" in cli("incident", "report", made.id, "-f", "x", expect=2).output


def test_a_summary_and_notes_stay_text_in_the_markdown(live):
    """A summary or note pasted from a ticket or a model's answer cannot add a field,
    a heading, HTML or a mention to the draft."""
    ws, _ = live
    made = ws.open_incident(SYSTEM, severity="high", freeze=False,
                            summary="misrouted\n## Injected\n- **Fixed**: yes <img src=x> @legal")
    ws.note_incident(made.id, "see ![log](https://t.example/p.gif)\n- **Member States**: none")
    text = ws.incident_report(made.id, "nis2-final").markdown()

    assert "\n## Injected" not in text and "\n- **Fixed**" not in text
    assert "\n- **Member States**: none" not in text
    assert "misrouted ## Injected - \\*\\*Fixed\\*\\*: yes &lt;img src=x&gt; @&#8203;legal" in text
    assert "see \\!\\[log\\](https://t.example/p.gif) - \\*\\*Member States\\*\\*: none" in text
