"""Compliance documents written from the same evidence as the assessment.

Each document is Markdown first (reviewable in a pull request), then HTML that
carries its own styles (it opens offline, from an e-mail or an evidence
bundle), or PDF through WeasyPrint when the `pdf` extra is installed. Nothing is
invented: what the store and trimtab.yaml do not hold is printed as missing,
with what would fill it. A document depends only on the store's state and the
``as_of`` moment, so the same inputs give the same bytes; its hash and
generation time are recorded (the evidence for check G4).
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trimtab.assess import doc_texts
from trimtab.assess.assessment import Assessment, assess
from trimtab.assess.evidence import verified_chain
from trimtab.errors import TrimtabError
from trimtab.project.models import Project, SystemSpec
from trimtab.quality.metrics import wilson
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store import calls as call_store
from trimtab.store import deployments as deployment_store
from trimtab.store import documents as document_store
from trimtab.store import drift as drift_store
from trimtab.store import evals as eval_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.deployments import Deployment
from trimtab.store.documents import DocumentRecord
from trimtab.store.drift import DriftResult
from trimtab.store.releases import Release

FORMATS = ("md", "html", "pdf")
KINDS = tuple(doc_texts.RENDERERS)
#: Documents older than this no longer count as evidence (check G4).
VALID_FOR = timedelta(days=365)


@dataclass(frozen=True)
class GroupMetric:
    """One tag group's pass rate in an eval run, with its Wilson 95% interval."""

    tag: str
    group: str
    passed: int
    cases: int
    low: float
    high: float


@dataclass(frozen=True)
class DocEvidence:
    system: str
    project: str
    spec: SystemSpec
    environments: list[str]
    releases: list[Release]  # newest first
    deployments: list[Deployment]  # oldest first
    assessment: Assessment
    rules: dict[str, Any]  # alert rule name -> AlertRuleSpec, those that watch this system
    channels: list[str]
    usage: call_store.Coverage  # production, the 30 days before as_of
    drift_baselines: int
    latest_drift: DriftResult | None
    chain: audit_store.ChainReport
    as_of: datetime
    #: The newest eval run on the release in production (before as_of), and its
    #: pass rate per tag group: the model card's metrics per group.
    eval_run: eval_store.EvalRun | None = None
    groups: tuple[GroupMetric, ...] = ()

    @property
    def production(self) -> str:
        return self.environments[-1]

    def active(self, env: str) -> Deployment | None:
        stable = [d for d in self.deployments
                  if d.env == env and d.action in ("promote", "rollback")]
        return stable[-1] if stable else None


@dataclass(frozen=True)
class Generated:
    kind: str
    path: Path
    record: DocumentRecord


def gather(store: Store, project: Project, system: str, as_of: datetime) -> DocEvidence:
    spec = project.system(system)
    verified = verified_chain(store, project)  # checked once, against the checkpoints too
    assessment = assess(store, project, system, now=as_of, chain=verified)
    with store.read() as conn:
        stored = system_store.find(conn, system)
        releases: list[Release] = []
        history: list[Deployment] = []
        if stored is not None:
            releases = [r for r in release_store.for_system(conn, stored.id)
                        if r.created_at <= as_of]
            history = sorted((d for d in deployment_store.history(conn, stored.id)
                              if d.created_at <= as_of), key=lambda d: d.id)
        usage = call_store.coverage(conn, system, project.production, as_of - timedelta(days=30),
                                    until=as_of)
        baselines = drift_store.baselines(conn, system)
        drift = [r for r in drift_store.results(conn, system, limit=50) if r.time <= as_of]
        run, groups = _production_eval(conn, system, history, project.production, as_of)
    rules = {name: rule for name, rule in project.spec.alerts.items()
             if rule.system in (None, system)}
    return DocEvidence(
        system=system, project=project.spec.project, spec=spec,
        environments=list(project.spec.environments),
        releases=sorted(releases, key=lambda r: r.created_at, reverse=True),
        deployments=history, assessment=assessment, rules=rules,
        channels=sorted(project.spec.channels), usage=usage,
        drift_baselines=len([b for b in baselines if b.created_at <= as_of]),
        latest_drift=drift[0] if drift else None, chain=verified[0], as_of=as_of,
        eval_run=run, groups=groups,
    )


def _production_eval(conn, system: str, history: list[Deployment], production: str,
                     as_of: datetime) -> tuple[eval_store.EvalRun | None, tuple[GroupMetric, ...]]:
    stable = [d for d in history if d.env == production and d.action in ("promote", "rollback")]
    if not stable:
        return None, ()
    release_id = stable[-1].release_id
    runs = [r for r in eval_store.runs(conn, system=system, limit=500)
            if r.release_id == release_id and r.finished_at <= as_of]
    if not runs:
        return None, ()
    run = max(runs, key=lambda r: r.finished_at)
    counts: dict[tuple[str, str], list[int]] = {}
    for result in eval_store.results(conn, run.id):
        tags = json.loads(result.tags) if result.tags else {}
        for tag, group in (tags.items() if isinstance(tags, dict) else ()):
            seen = counts.setdefault((str(tag), str(group)), [0, 0])
            seen[0] += int(result.passed)
            seen[1] += 1
    groups = tuple(GroupMetric(tag, group, passed, total, *wilson(passed, total))
                   for (tag, group), (passed, total) in sorted(counts.items()))
    return run, groups


def render(kind: str, evidence: DocEvidence) -> str:
    if kind not in doc_texts.RENDERERS:
        raise TrimtabError(f"unknown document {kind!r}. Choose from: {', '.join(KINDS)}.")
    return doc_texts.RENDERERS[kind](evidence)


def missing_count(markdown: str) -> int:
    return markdown.count(doc_texts.MISSING_MARK)


def to_html(markdown: str, title: str) -> str:
    """One self-contained page: styles inline, no script, no external asset."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def to_pdf(html_text: str) -> bytes:
    try:
        from weasyprint import HTML
    except ImportError:
        raise TrimtabError(
            "PDF output needs WeasyPrint. Fix: pip install 'trimtab[pdf]' "
            "(or use --format html and print it to PDF)."
        ) from None
    return HTML(string=html_text).write_pdf()


def generate(store: Store, project: Project, system: str, *, kinds: list[str], fmt: str,
             out: Path, as_of: datetime | None, actor: str) -> list[Generated]:
    """Write each document to ``out`` and record its hash: the evidence for G4."""
    if fmt not in FORMATS:
        raise TrimtabError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}.")
    unknown = [k for k in kinds if k not in doc_texts.RENDERERS]
    if unknown:
        raise TrimtabError(f"unknown document(s) {', '.join(unknown)}. "
                           f"Choose from: {', '.join(KINDS)}.")
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    evidence = gather(store, project, system, moment)
    owner = evidence.spec.owner.strip()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in kinds:
        text = render(kind, evidence)
        title = f"{system}: {doc_texts.TITLES[kind]}"
        data: bytes
        if fmt == "md":
            data = text.encode("utf-8")
        elif fmt == "html":
            data = to_html(text, title).encode("utf-8")
        else:
            data = to_pdf(to_html(text, title))
        path = out / f"{system}.{kind}.{fmt}"
        path.write_bytes(data)
        with store.ingest() as conn:
            record = document_store.add(
                conn, system=system, kind=kind, format=fmt,
                sha256=hashlib.sha256(data).hexdigest(), as_of=moment,
                generated_at=datetime.now(UTC), owner=owner, missing=missing_count(text),
                location=str(path), actor=actor)
        written.append(Generated(kind, path, record))
    return written


def records(store: Store, system: str) -> list[DocumentRecord]:
    with store.read() as conn:
        return document_store.for_system(conn, system)


def summary(evidence: DocEvidence) -> str:
    """For logs and tests: the inputs a document was built from, as one JSON line."""
    return json.dumps({"system": evidence.system, "as_of": evidence.as_of.isoformat(),
                       "releases": [r.id for r in evidence.releases],
                       "stage": evidence.assessment.stage}, sort_keys=True)


_CSS = (
    "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;"
    "margin:0;background:#fff}main{max-width:58rem;margin:2rem auto;padding:0 1.5rem}"
    "h1{font-size:1.6rem;border-bottom:2px solid #1b1f24;padding-bottom:.3rem}"
    "h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%;"
    "margin:1rem 0;font-size:.9rem}th,td{border:1px solid #c9d1d9;padding:.35rem .5rem;"
    "text-align:left;vertical-align:top}th{background:#f3f5f7}code{font-size:.85rem;"
    "background:#f3f5f7;padding:0 .2rem}strong{color:#9a3412}"
    "@media print{main{margin:0;max-width:none}}"
)
