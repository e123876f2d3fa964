"""Signed checkpoints of the audit chain, kept outside the store.

A hash chain shows an edit, a deletion, an insertion or a reordering, but not a
tail cut off with the head row rewritten to match: what is left is still a
valid chain. A checkpoint is the head (seq, hash, time) signed with an Ed25519
key and written somewhere the database's users cannot rewrite (a file in the
team's Git repository, a bucket, any fsspec URL). Verifying against the
checkpoints then shows a chain that no longer reaches a checkpointed entry
(truncated) or reaches it with another hash (rewritten).

The private key is made on first use, outside the store (``.trimtab/keys/``
by default, mode 0600, or ``audit.checkpoint_key`` / TRIMTAB_CHECKPOINT_KEY);
its public half is written beside it, for anyone who verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from trimtab.errors import TrimtabError
from trimtab.jsontext import canonical_json
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store.audit import ChainReport

KEY_ENV = "TRIMTAB_CHECKPOINT_KEY"
DEFAULT_KEY = Path(".trimtab") / "keys" / "audit-checkpoint.pem"
#: A checkpoint file larger than this is refused rather than read into memory
#: (a checkpoint line is ~300 bytes: this is about 200,000 of them).
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    time: datetime
    key_id: str
    signature: str  # base64 of the Ed25519 signature over ``signed_bytes``

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.seq, self.hash, self.time)

    def to_dict(self) -> dict:
        return {"seq": self.seq, "hash": self.hash, "time": _iso(self.time),
                "key_id": self.key_id, "signature": self.signature}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def signed_bytes(seq: int, hash_: str, time: datetime) -> bytes:
    return canonical_json({"seq": seq, "hash": hash_, "time": _iso(time)}).encode()


# --- keys ---------------------------------------------------------------------


def key_path(project: Project | None, explicit: str | Path | None = None) -> Path:
    """--key, then TRIMTAB_CHECKPOINT_KEY, then the project's audit.checkpoint_key,
    then .trimtab/keys/audit-checkpoint.pem beside the project file."""
    chosen = explicit or os.environ.get(KEY_ENV) or (
        project.spec.audit.checkpoint_key if project is not None else None)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_absolute() and project is not None:
            path = project.root / path
        return path
    if project is None:
        raise TrimtabError(f"no checkpoint key: there is no project here. Fix: set {KEY_ENV} "
                           "to the key file, or pass --key.")
    return project.root / DEFAULT_KEY


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The private key at ``path``, made (0600, in a 0700 folder) when missing."""
    if path.exists():
        return _load_private(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _load_private(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path(path).write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def public_path(private: Path) -> Path:
    return private.with_suffix(".pub")


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise TrimtabError(f"{path}: not an unencrypted PEM private key ({exc}). Fix: point "
                           f"{KEY_ENV} at the checkpoint key, or move this file away.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TrimtabError(f"{path}: not an Ed25519 key. Fix: use the key trimtab made.")
    return key


def verifying_key(path: Path) -> Ed25519PublicKey:
    """A public key from a .pub PEM, or the public half of a private key file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TrimtabError(
            f"{path}: no such key, so checkpoints cannot be checked. Fix: pass "
            "--public-key with the .pub file written beside the checkpoint key.") from None
    if b"PRIVATE KEY" in data:
        return _load_private(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise TrimtabError(f"{path}: not a PEM public key ({exc}).") from None
    if not isinstance(key, Ed25519PublicKey):
        raise TrimtabError(f"{path}: not an Ed25519 public key.")
    return key


# --- where checkpoints are kept ----------------------------------------------


def location(project: Project | None, explicit: str | None = None) -> str:
    """A path (relative to the project) or any fsspec URL."""
    chosen = explicit or (project.spec.audit.checkpoints if project is not None
                          else "audit-checkpoints.jsonl")
    if "://" in chosen or os.path.isabs(chosen) or project is None:
        return chosen
    return str(project.root / chosen)


def _append(where: str, line: str) -> None:
    if "://" not in where:
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        with open(where, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return
    import fsspec

    # Object stores cannot append: read what is there and write it back whole.
    existing = _read_text(where) or ""
    with fsspec.open(where, "w", encoding="utf-8") as handle:
        handle.write(existing + line)


def _read_text(where: str) -> str | None:
    import fsspec

    fs, path = fsspec.core.url_to_fs(where)
    if not fs.exists(path):
        return None
    size = fs.size(path)
    if size is not None and size > MAX_FILE_BYTES:
        raise TrimtabError(f"{where}: {size} bytes is more than a checkpoint file may hold "
                           f"({MAX_FILE_BYTES}). Fix: start a new file and keep this one.")
    with fs.open(path, "rb") as handle:
        return handle.read().decode("utf-8")


def read(where: str) -> list[Checkpoint]:
    """Every checkpoint in the file, in file order; a malformed line is an error
    naming it (a checkpoint file is evidence: nothing in it is skipped)."""
    text = _read_text(where)
    if text is None:
        raise TrimtabError(f"{where}: no checkpoint file there. Fix: write one with "
                           "`trimtab audit checkpoint`, or pass --checkpoints with its place.")
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found.append(Checkpoint(
                seq=int(data["seq"]), hash=str(data["hash"]),
                time=datetime.fromisoformat(data["time"]), key_id=str(data["key_id"]),
                signature=str(data["signature"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise TrimtabError(f"{where}:{number}: not a checkpoint line ({exc}). Fix: restore "
                               "the file from its history (e.g. git log -p).") from None
    return found


# --- writing and checking -----------------------------------------------------


def checkpoint(store: Store, project: Project | None, *, to: str | None = None,
               key: str | Path | None = None, now: datetime | None = None) -> Checkpoint:
    """Sign the head of a chain that verifies and append it to the checkpoint file.
    A broken chain is not signed: that would vouch for the tampering."""
    with store.read() as conn:
        report = audit_store.verify(conn)
    if not report.ok:
        raise TrimtabError(f"the audit chain is broken at entry {report.first_bad_seq} "
                           f"({report.problem}); refusing to sign it. Fix: investigate with "
                           "`trimtab audit verify` first.")
    private = signing_key(key_path(project, key))
    moment = now or datetime.now(UTC)
    body = signed_bytes(report.entries, report.head_hash, moment)
    made = Checkpoint(seq=report.entries, hash=report.head_hash, time=moment,
                      key_id=key_id(private.public_key()),
                      signature=base64.b64encode(private.sign(body)).decode())
    _append(location(project, to), json.dumps(made.to_dict(), sort_keys=True) + "\n")
    return made


def verify(store: Store, project: Project | None, *, checkpoints: str | None = None,
           public_key: str | Path | None = None) -> ChainReport:
    """The chain's own verdict, then every checkpoint compared with it; the
    report names the first entry that cannot be trusted."""
    with store.read() as conn:
        report = audit_store.verify(conn)
    where = location(project, checkpoints)
    found = read(where)
    key_file = Path(public_key) if public_key else public_path(key_path(project))
    if not public_key and not key_file.exists():
        key_file = key_path(project)
    public = verifying_key(key_file)
    expected_id = key_id(public)
    for number, cp in enumerate(found, 1):
        problem = None
        if cp.key_id != expected_id:
            problem = f"is signed by key {cp.key_id}, not by {expected_id} ({key_file})"
        else:
            try:
                public.verify(base64.b64decode(cp.signature), cp.signed_bytes())
            except (InvalidSignature, ValueError):
                problem = "has a signature that does not verify (the line was edited or forged)"
        if problem:
            return replace(report, ok=False, checkpoints=len(found),
                           problem=f"checkpoint {where} line {number} (entry {cp.seq}) {problem}")
    ordered = sorted(found, key=lambda c: c.seq)
    with store.read() as conn:
        stored = audit_store.hashes_at(conn, [cp.seq for cp in ordered])
        newest = audit_store.head(conn)[0]
        bad, why = _against(conn, ordered, stored, min(report.entries, newest))
    if bad is not None and (report.ok or bad < (report.first_bad_seq or bad + 1)):
        return replace(report, ok=False, first_bad_seq=bad, problem=why, checkpoints=len(found))
    return replace(report, checkpoints=len(found))


def _against(conn, found: list[Checkpoint], stored: dict[int, str],
             length: int) -> tuple[int | None, str | None]:
    """The first entry the checkpoints show to be gone or rewritten. An entry at
    or below a checkpoint's seq but written after it must be a rewrite; failing
    that, a missing tail starts after the chain's end, and a changed hash
    after the newest checkpoint that still matches."""
    vouched = 0  # the newest entry a checkpoint still vouches for
    for cp in found:
        if cp.seq == 0:
            continue
        when = f"{cp.time:%Y-%m-%d %H:%M:%S} UTC"
        have = stored.get(cp.seq)
        if have == cp.hash:
            vouched = cp.seq
            continue
        later = audit_store.first_written_after(conn, cp.time, cp.seq)
        if later is not None:
            return later, (f"entry {later} was written after the checkpoint of entry {cp.seq} "
                           f"at {when}, yet sits before it: the chain was cut back and "
                           "rewritten from there")
        if have is None:
            return length + 1, (
                f"entries {length + 1}..{cp.seq} were checkpointed at {when} but are gone "
                "(the chain was truncated and its head rewritten)")
        return vouched + 1, (
            f"entry {cp.seq} no longer has the hash checkpointed at {when}: entries "
            f"{vouched + 1}..{cp.seq} were rewritten (the first that no checkpoint "
            f"vouches for is {vouched + 1})")
    return None, None

def scheduled(store: Store, project: Project, memory: dict, *,
              now: datetime | None = None) -> Checkpoint | None:
    """The monitor's checkpoint: at most every ``audit.checkpoint_every``, and only
    when the chain has grown since the newest checkpoint (``memory`` keeps what
    this process last saw, so the file is read once)."""
    from trimtab.project.alert_rules import parse_duration

    if project.spec.audit.checkpoint_every is None:
        return None
    every = parse_duration(project.spec.audit.checkpoint_every)
    now = now or datetime.now(UTC)
    where = location(project)
    if "last" not in memory:
        text = _read_text(where)
        newest = read(where)[-1] if text and text.strip() else None
        memory["last"] = (newest.seq, newest.time) if newest else (None, None)
    last_seq, last_time = memory["last"]
    if last_time is not None and now - last_time < every:
        return None
    with store.read() as conn:
        seq, _ = audit_store.head(conn)
    if seq == last_seq or seq == 0:
        return None
    made = checkpoint(store, project, now=now)
    memory["last"] = (made.seq, made.time)
    return made
