"""Evidence bundles: what a system did since a moment, in files an auditor can check.

``export`` writes one folder: each table about the system (its inventory
record, calls and the records the log is missing, releases, deployments,
suspensions, audit entries, approvals, incidents with their freezes and legal
holds, drills, independent reviews and their findings, eval runs, review
samples, reviews, scores, flags, labels, alert events, drift checks) as JSON
and CSV, the generated compliance documents, and ``manifest.json`` with every
file's sha256 and size, the audit chain's head and verdict at export time.
The manifest's own sha256 goes into the audit trail (``evidence.export``), so
a bundle whose manifest was rewritten to match edited files no longer matches
the store's record of it.

``verify`` recomputes every hash and names each file changed, missing or
added since the export. Reading a bundle is bounded: the manifest's size, the
number of files, and paths that must stay inside the folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.escaping import csv_cell
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store import evidence as evidence_store

FORMAT = "trimtab-evidence/1"
MANIFEST = "manifest.json"
#: Rows one table may put in a bundle unless told otherwise: past it, narrow --since.
MAX_ROWS = 1_000_000
MAX_MANIFEST_BYTES = 16 << 20
MAX_FILES = 10_000

Progress = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class EvidenceBundle:
    path: Path
    manifest_sha256: str
    rows: dict[str, int]
    files: int
    documents: int
    audit_head: tuple[int, str]
    chain_ok: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "manifest_sha256": self.manifest_sha256,
                "rows": self.rows, "files": self.files, "documents": self.documents,
                "audit_head": {"seq": self.audit_head[0], "hash": self.audit_head[1]},
                "chain_ok": self.chain_ok}


@dataclass(frozen=True)
class Finding:
    path: str
    problem: str  # changed | missing | added | unsafe
    detail: str = ""


@dataclass(frozen=True)
class EvidenceVerdict:
    ok: bool
    manifest_sha256: str | None
    checked: int
    findings: list[Finding] = field(default_factory=list)
    system: str | None = None
    exported_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "manifest_sha256": self.manifest_sha256, "checked": self.checked,
                "system": self.system, "exported_at": self.exported_at,
                "findings": [f.__dict__ for f in self.findings]}


#: Column order is the table's, so keys are not sorted (the CSV header says the order too).
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_table(conn, name: str, system: str, since: datetime, folder: Path,
                 advance: Callable[[int], None]) -> None:
    """``name``.json (a JSON array, one row a line) and ``name``.csv, streamed."""
    header = evidence_store.columns(name)
    with open(folder / f"{name}.json", "w", encoding="utf-8", newline="\n") as as_json, \
            open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as as_csv:
        writer = csv.writer(as_csv)
        writer.writerow(header)
        as_json.write("[")
        first = True
        pending = 0
        for row in evidence_store.rows(conn, name, system, since):
            values = [v.isoformat() if isinstance(v, datetime) else v for v in row]
            record = _encode(dict(zip(header, values, strict=True)))
            as_json.write(("\n" if first else ",\n") + record)
            # None is written as an empty field; a text a spreadsheet would run as a
            # formula gets a quote before it (the JSON beside it keeps the value as is)
            writer.writerow([csv_cell(v) for v in values])
            first = False
            pending += 1
            if pending == 1000:
                advance(pending)
                pending = 0
        as_json.write("\n]\n")
        advance(pending)


def export(store: Store, system: str, *, since: datetime, out: Path, actor: str,
           documents: Callable[[Path], list[Path]] | None = None,
           progress: Progress | None = None, max_rows: int = MAX_ROWS) -> EvidenceBundle:
    """Write ``system``'s evidence since ``since`` into ``out`` (new or empty), with
    its manifest; audited as ``evidence.export`` with the manifest's sha256."""
    now = datetime.now(UTC)
    if since.tzinfo is None or since > now:
        raise TrimtabError(f"--since {since.isoformat()} is in the future or has no time zone. "
                           "Fix: e.g. --since 30d or --since 2026-11-01.")
    if max_rows < 1:
        raise TrimtabError(f"--max-rows {max_rows}: must be at least 1. Fix: leave it out "
                           f"for the default {MAX_ROWS:,}, or give a row count per table.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TrimtabError(f"{out} exists and is not an empty folder: a bundle is written "
                           "whole or not at all. Fix: give --out a new folder.")
    with store.snapshot() as conn:  # counts, rows and head of one moment, writers or not
        counts = {name: evidence_store.count(conn, name, system, since)
                  for name, _ in evidence_store.TABLES}
        if not any(counts.values()):
            raise TrimtabError(f"nothing about system {system!r} since {since:%Y-%m-%d %H:%M} "
                               "UTC: no calls, releases, audit entries or incidents. Fix: check "
                               "the name (`trimtab systems`) or an earlier --since.")
        too_many = {n: c for n, c in counts.items() if c > max_rows}
        if too_many:
            listed = ", ".join(f"{n} {c:,}" for n, c in too_many.items())
            raise TrimtabError(f"the bundle would hold {listed} rows, more than --max-rows "
                               f"{max_rows:,} per table. Fix: a later --since, or a higher "
                               "--max-rows if the disk can hold it.")
        data = out / "data"
        data.mkdir(parents=True, exist_ok=True)
        for name, _ in evidence_store.TABLES:
            advance = progress(name, counts[name]) if progress else (lambda n: None)
            _write_table(conn, name, system, since, data, advance)
        head = audit_store.head(conn)
        chain = audit_store.verify(conn)
    notes = []
    written_docs: list[Path] = []
    if documents is None:
        notes.append("documents: not generated (no project file declares the system)")
    else:
        try:
            written_docs = documents(out / "documents")
        except TrimtabError as exc:
            notes.append(f"documents: not generated: {exc}")
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        digest, size = _file_sha256(path)
        files[path.relative_to(out).as_posix()] = {"sha256": digest, "bytes": size}
    manifest = {
        "format": FORMAT, "system": system, "since": since.astimezone(UTC).isoformat(),
        "exported_at": now.isoformat(), "exported_by": actor, "trimtab_version": _version(),
        "audit_head": {"seq": head[0], "hash": head[1]},
        "audit_chain": {"ok": chain.ok, "entries": chain.entries, "problem": chain.problem},
        "tables": counts, "files": files, "notes": notes,
    }
    body = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    (out / MANIFEST).write_bytes(body)
    manifest_sha256 = hashlib.sha256(body).hexdigest()
    with store.write() as conn:
        audit_store.append(conn, actor=actor, action="evidence.export", object_type="evidence",
                           object_id=manifest_sha256, system=system,
                           payload={"since": manifest["since"], "tables": counts,
                                    "files": len(files), "audit_head_seq": head[0],
                                    "chain_ok": chain.ok})
    return EvidenceBundle(out, manifest_sha256, counts, len(files), len(written_docs), head,
                          chain.ok)


def _version() -> str:
    from trimtab import __version__

    return __version__


def _safe(relative: str) -> bool:
    path = PurePosixPath(relative)
    return (bool(relative) and not path.is_absolute() and ".." not in path.parts
            and "\\" not in relative and relative != MANIFEST)


def verify(folder: Path, *, expect: str | None = None) -> EvidenceVerdict:
    """Every file the manifest lists, hashed again; every file it does not list, named."""
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise TrimtabError(f"{folder} is not a folder. Fix: give the bundle's folder "
                           "(the one holding manifest.json).")
    if not manifest_path.is_file():
        return EvidenceVerdict(False, None, 0, [Finding(
            MANIFEST, "missing", "no manifest: not a bundle or its manifest was deleted")])
    size = manifest_path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise TrimtabError(f"{manifest_path}: {size:,} bytes, more than a manifest may hold "
                           f"({MAX_MANIFEST_BYTES:,}). Fix: is this a trimtab evidence bundle?")
    body = manifest_path.read_bytes()
    manifest_sha256 = hashlib.sha256(body).hexdigest()
    try:
        manifest = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return EvidenceVerdict(False, manifest_sha256, 0, [Finding(MANIFEST, "changed",
                                                           f"not JSON any more: {exc}")])
    except RecursionError:  # a hostile manifest of 16 MiB of brackets: no traceback
        return EvidenceVerdict(False, manifest_sha256, 0, [Finding(
            MANIFEST, "changed", "JSON nested too deep to be a manifest")])
    if not isinstance(manifest, dict):
        manifest = {}
    listed = manifest.get("files")
    if manifest.get("format") != FORMAT or not isinstance(listed, dict) or \
            len(listed) > MAX_FILES:
        return EvidenceVerdict(False, manifest_sha256, 0, [Finding(
            MANIFEST, "changed", f"not a {FORMAT} manifest (format, or a files mapping of at "
            f"most {MAX_FILES:,} entries)")])
    findings: list[Finding] = []
    if expect is not None and expect.strip().lower() != manifest_sha256:
        findings.append(Finding(MANIFEST, "changed", f"its sha256 is {manifest_sha256}, "
                                f"not the {expect.strip()} recorded at export"))
    checked = 0
    for relative, entry in sorted(listed.items()):
        if not _safe(relative) or not isinstance(entry, dict):
            findings.append(Finding(relative, "unsafe", "a path outside the bundle or a "
                                    "malformed entry"))
            continue
        path = folder / relative
        if path.is_symlink() or not path.is_file():
            findings.append(Finding(relative, "missing"))
            continue
        digest, size = _file_sha256(path)
        checked += 1
        if digest != entry.get("sha256") or size != entry.get("bytes"):
            findings.append(Finding(relative, "changed",
                                    f"sha256 {digest}, manifest says {entry.get('sha256')}"))
    seen = 0
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            seen += 1
            if seen > MAX_FILES:
                findings.append(Finding(".", "added", f"more than {MAX_FILES:,} files"))
                break
            relative = (Path(root) / name).relative_to(folder).as_posix()
            if relative != MANIFEST and relative not in listed:
                findings.append(Finding(relative, "added", "not in the manifest"))
        if seen > MAX_FILES:
            break
    return EvidenceVerdict(not findings, manifest_sha256, checked, findings,
                   system=manifest.get("system"), exported_at=manifest.get("exported_at"))
