"""The call spool on disk, and the drainer that moves it into the store.

A process that records calls (the *owner*) appends to segment files named
``<owner>.<n>.jsonl`` and holds an exclusive ``flock`` on ``<owner>.owner``
for as long as it lives. Whoever drains a segment (a thread of the owner, or
its writer process) holds a ``flock`` on the segment file itself and keeps a
checkpoint beside it (``<owner>.<n>.offset``) saying how far it got.

So any process can tell an abandoned segment from a live one: its owner
lock is free. A drainer adopts such orphans, replays them from their
checkpoint (inserts skip ids already stored, so a replay never doubles a
call) and deletes them. The owner only ever appends to its newest segment;
older ones are sealed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trimtab.recorder.deadletter import DeadLetters
from trimtab.recorder.records import values_from_spool
from trimtab.store import Store
from trimtab.store import calls as call_store
from trimtab.store import rollups as rollup_store
from trimtab.store.bulk import row_fault

log = logging.getLogger("trimtab.recorder.recorder")

READ_BYTES_PER_RECORD = 1024  # a batch reads batch_size KiB of spool (at least 1 MiB)
ORPHAN_SCAN_SECONDS = 10.0
_SEGMENT = re.compile(r"^(?P<owner>.+)\.(?P<n>\d{8})\.jsonl$")


def new_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}"


def segment_path(spool_dir: Path, owner: str, n: int) -> Path:
    return spool_dir / f"{owner}.{n:08d}.jsonl"


def owner_of(path: Path) -> str | None:
    """The owner a segment belongs to; None for names from trimtab before 0.2."""
    match = _SEGMENT.match(path.name)
    return match["owner"] if match else None


def _checkpoint_path(segment: Path) -> Path:
    return segment.with_suffix(".offset")


class OwnerLock:
    """Held by a recording process while it lives: its segments are not orphans."""

    def __init__(self, spool_dir: Path, owner: str):
        self.path = spool_dir / f"{owner}.owner"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self, *, remove: bool) -> None:
        if remove:
            self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def owner_alive(spool_dir: Path, owner: str) -> bool:
    try:
        fd = os.open(spool_dir / f"{owner}.owner", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe: shared, so probes never clash
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def checkpoint(segment: Path) -> int:
    try:
        raw = _checkpoint_path(segment).read_bytes()
    except FileNotFoundError:
        return 0
    return int(raw) if raw.strip().isdigit() else 0


def pending_bytes(spool_dir: Path, owner: str) -> int:
    """Bytes an owner has spooled that are not yet in the store."""
    total = 0
    for path in spool_dir.glob(f"{glob_escape(owner)}.*.jsonl"):
        with contextlib.suppress(FileNotFoundError):  # drained and deleted meanwhile
            total += max(path.stat().st_size - checkpoint(path), 0)
    return total


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


@dataclass
class _Batch:
    consumed: int  # spool bytes it covers
    rows: list[list[Any]]  # calls-table values
    corrupt: int  # lines that could not be read
    lines: list[bytes] = field(default_factory=list)  # each row's spool line


@dataclass
class Segment:
    path: Path
    owner: str | None
    fd: int  # read fd; holds the drain lock
    offset: int
    checkpoint_fd: int

    @classmethod
    def lock(cls, path: Path, *, wait: float = 0.0) -> Segment | None:
        """Take the drain lock, trying for up to ``wait`` seconds; None if held."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # drained and deleted by its holder meanwhile
            return None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(0.05)
        if not path.exists():  # deleted between open and lock: nothing left to drain
            os.close(fd)
            return None
        checkpoint_fd = os.open(_checkpoint_path(path), os.O_RDWR | os.O_CREAT, 0o600)
        raw = os.pread(checkpoint_fd, 20, 0)
        offset = int(raw) if raw.strip().isdigit() else 0
        segment = cls(path, owner_of(path), fd, offset, checkpoint_fd)
        if not raw:
            # Written now, while the disk likely has room: a checkpoint that could not
            # be saved once it fills would replay (harmlessly, but again) every batch.
            with contextlib.suppress(OSError):
                segment.save()
        return segment

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def save(self) -> None:
        os.pwrite(self.checkpoint_fd, f"{self.offset:020d}".encode(), 0)

    def remove(self) -> None:
        for path in (self.path, _checkpoint_path(self.path)):
            path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        for fd in (self.fd, self.checkpoint_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class Drainer:
    """Moves one owner's segments, and any orphans it finds, into the store.

    Not thread-safe: one thread (the owner's, or its writer process's) calls
    ``drain``. ``owner_alive`` says whether the owner may still append; once
    it returns False every segment is sealed and drained to the end.
    """

    def __init__(
        self,
        store: Store,
        spool_dir: Path,
        owner: str,
        *,
        owner_alive: Callable[[], bool],
        batch_size: int = 10_000,
    ):
        self.store = store
        self.spool_dir = spool_dir
        self.owner = owner
        self.owner_alive = owner_alive
        self.batch_size = batch_size
        self.read_bytes = max(1 << 20, batch_size * READ_BYTES_PER_RECORD)
        # Rollup rows are per writer, so replicas never update each other's rows.
        self.rollups = rollup_store.RollupWriter(os.urandom(8).hex(), max_rows=30_000)
        self.segments: list[Segment] = []
        self.written = self.duplicates = self.failures = self.corrupt = 0
        self.dead_letters = DeadLetters(spool_dir)  # rows the store refuses (deadletter.py)
        self.backoff = 0.0  # seconds to wait after a failed insert; 0 when healthy
        self._last_orphan_scan = -ORPHAN_SCAN_SECONDS

    # --- finding segments -------------------------------------------------------

    def scan(self, *, orphans: bool | None = None) -> None:
        """Take the owner's new segments; look for orphans every ten seconds."""
        now = time.monotonic()
        if orphans is None:
            orphans = now - self._last_orphan_scan >= ORPHAN_SCAN_SECONDS
        if orphans:
            self._last_orphan_scan = now
        held = {s.path for s in self.segments}
        pattern = "*.jsonl" if orphans else f"{glob_escape(self.owner)}.*.jsonl"
        for path in sorted(self.spool_dir.glob(pattern)):
            if path in held:
                continue
            owner = owner_of(path)
            if owner == self.owner:
                segment = Segment.lock(path)
            elif owner is not None and owner_alive(self.spool_dir, owner):
                continue
            else:
                # The owner is dead; its writer process may be exiting: wait a little.
                segment = Segment.lock(path, wait=2.0 if owner else 0.0)
                if segment is not None:
                    log.info("trimtab: replaying spool %s left by a stopped process", path.name)
            if segment is not None:
                self.segments.append(segment)
        self.segments.sort(key=lambda s: (s.owner == self.owner, s.path.name))

    def sealed(self, segment: Segment) -> bool:
        """No more writes will come: an orphan, a dead owner's, or not its newest."""
        if segment.owner != self.owner or not self.owner_alive():
            return True
        return any(s.owner == self.owner and s.path.name > segment.path.name
                   for s in self.segments)

    def adopted_pending(self) -> int:
        """Bytes in adopted orphans not yet in the store (safe from another thread)."""
        total = 0
        for segment in list(self.segments):
            if segment.owner != self.owner:
                with contextlib.suppress(OSError):  # drained and closed meanwhile
                    total += max(segment.size() - segment.offset, 0)
        return total

    # --- draining ------------------------------------------------------------------

    def drain(self) -> None:
        """Insert everything spooled so far; raises if the store refuses."""
        for segment in list(self.segments):
            self._drain_segment(segment)
            if self.sealed(segment) and segment.offset >= segment.size():
                self.segments.remove(segment)
                segment.remove()
                if segment.owner not in (None, self.owner):
                    self._forget_owner(segment.owner)

    def _drain_segment(self, segment: Segment) -> None:
        while (batch := self._read(segment, segment.offset)) is not None:
            self._write(segment, batch)

    def _forget_owner(self, owner: str) -> None:
        """A dead owner's last segment is drained: its lock file goes too."""
        if not any(self.spool_dir.glob(f"{glob_escape(owner)}.*.jsonl")):
            (self.spool_dir / f"{owner}.owner").unlink(missing_ok=True)

    def drain_or_back_off(self) -> bool:
        """One round for a writer loop: False (and a longer backoff) if the store failed."""
        try:
            self.drain()
        except Exception as exc:  # the database is down or refusing: keep spooling
            self.failures += 1
            self.backoff = min(max(self.backoff * 2, 0.25), 5.0)
            log.warning("trimtab: recorder insert failed (%s); retrying in %.1fs",
                        exc.__class__.__name__, self.backoff)
            return False
        self.backoff = 0.0
        return True

    def _read(self, segment: Segment, offset: int) -> _Batch | None:
        """Parse the batch at ``offset``; changes nothing."""
        chunk = os.pread(segment.fd, self.read_bytes, offset)
        end = chunk.rfind(b"\n") + 1
        if end == 0 and len(chunk) == self.read_bytes:  # one record larger than a read
            chunk = os.pread(segment.fd, segment.size() - offset, offset)
            end = chunk.rfind(b"\n") + 1
        if end == 0:
            if chunk and self.sealed(segment):  # a torn last line from a killed process
                return _Batch(consumed=len(chunk), rows=[], corrupt=1)
            return None
        lines = chunk[:end].split(b"\n")[:-1][: self.batch_size]
        rows, parsed, corrupt = [], [], 0
        for line in lines:
            try:
                rows.append(values_from_spool(line))
            except (ValueError, KeyError, TypeError):
                corrupt += 1
            else:
                parsed.append(line)
        return _Batch(consumed=sum(map(len, lines)) + len(lines), rows=rows, corrupt=corrupt,
                      lines=parsed)

    def _write(self, segment: Segment, batch: _Batch) -> None:
        """Insert a batch and its rollups in one transaction, then checkpoint. A batch
        the store refuses for what a row holds is split until the refused rows stand
        alone; they go to the dead-letter file, the rest is stored."""
        inserted, refused = set(), 0
        if batch.rows:
            try:
                inserted = self._insert(batch.rows)
            except Exception as exc:
                if not row_fault(exc):
                    raise
                inserted, refused = self._isolate(batch.rows, batch.lines, exc)
        self.written += len(inserted)
        self.duplicates += len(batch.rows) - len(inserted) - refused
        self.corrupt += batch.corrupt
        segment.offset += batch.consumed
        segment.save()

    def _insert(self, rows: list[list[Any]]) -> set[str]:
        """Rows and their rollups in one transaction; the ids inserted (not stored before)."""
        try:
            with self.store.ingest() as conn:
                inserted = call_store.insert_many(conn, rows)
                if len(inserted) < len(rows):
                    # A replay can repeat an id inside one batch: count each row once.
                    rows = list({r[0]: r for r in reversed(rows) if r[0] in inserted}.values())
                self.rollups.apply(conn, rows)
        except BaseException:
            self.rollups.failed()
            raise
        self.rollups.committed()
        return inserted

    def _isolate(self, rows: list[list[Any]], lines: list[bytes],
                 first: Exception) -> tuple[set[str], int]:
        """Store what the store takes, halving the refused parts; (ids inserted, rows
        refused). A failure that is not the rows' (the store went away meanwhile) is
        raised: the batch stays spooled and is replayed, stored rows skipped."""
        inserted: set[str] = set()
        refused: list[tuple[str, bytes, Exception]] = []
        parts = [(rows, lines, first)]
        while parts:
            part_rows, part_lines, error = parts.pop()
            if len(part_rows) == 1:
                refused.append((part_rows[0][0], part_lines[0], error))
                continue
            middle = len(part_rows) // 2
            for half_rows, half_lines in ((part_rows[middle:], part_lines[middle:]),
                                          (part_rows[:middle], part_lines[:middle])):
                try:
                    inserted |= self._insert(half_rows)
                except Exception as exc:
                    if not row_fault(exc):
                        raise
                    parts.append((half_rows, half_lines, exc))
        for call_id, line, error in refused:
            self.dead_letters.put(call_id, line, error)
        return inserted, len(refused)

    def release(self) -> None:
        """Let go of every segment without deleting it (the next drainer replays it)."""
        for segment in self.segments:
            segment.release()
        self.segments = []

    def stats(self) -> dict[str, float]:
        return {"written": self.written, "duplicates": self.duplicates,
                "failures": self.failures, "corrupt": self.corrupt,
                "quarantined": self.dead_letters.count, "backoff": self.backoff,
                "adopted_pending": self.adopted_pending()}
