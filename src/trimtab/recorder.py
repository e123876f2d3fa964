"""Recording calls without making the caller wait on the database.

The hot path appends one JSON line to this process's spool file (an
``os.write``: the bytes are in the kernel, so they survive the process being
killed) and returns. A background thread tails the spool and inserts batches;
a checkpoint file says how far it got. The spool is the queue: memory stays
bounded by one batch, a database outage only makes the file longer, and any
record not yet checkpointed is replayed, harmlessly, because inserts skip ids
already stored.

Each spool segment is held with ``flock`` by its process. A recorder starting
on the same spool folder adopts segments whose owner died and drains them.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from trimtab.records import CallRecord, new_call_id, row_from_spool
from trimtab.store import Store
from trimtab.store import calls as call_store
from trimtab.store import rollups as rollup_store

log = logging.getLogger("trimtab.recorder")

SEGMENT_BYTES = 64 << 20
READ_BYTES = 8 << 20


@dataclass
class _Segment:
    path: Path
    fd: int  # read fd; holds the flock
    offset: int
    checkpoint_fd: int
    sealed: bool  # no more writes will come (rotated, or adopted from a dead process)

    def save(self) -> None:
        os.pwrite(self.checkpoint_fd, f"{self.offset:020d}".encode(), 0)

    def remove(self) -> None:
        for fd in (self.fd, self.checkpoint_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        for path in (self.path, _checkpoint_path(self.path)):
            path.unlink(missing_ok=True)


def _checkpoint_path(segment: Path) -> Path:
    return segment.with_suffix(".offset")


def _open_segment(path: Path, *, blocking: bool) -> _Segment | None:
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    checkpoint_fd = os.open(_checkpoint_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    raw = os.pread(checkpoint_fd, 20, 0)
    offset = int(raw) if raw.strip().isdigit() else 0
    return _Segment(path, fd, offset, checkpoint_fd, sealed=not blocking)


class Recorder:
    def __init__(
        self,
        store: Store,
        spool_dir: Path,
        *,
        batch_size: int = 10_000,
        interval: float = 0.05,
        segment_bytes: int = SEGMENT_BYTES,
    ):
        self.store = store
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.interval = interval
        self.segment_bytes = segment_bytes
        # Rollup rows are per writer, so replicas never update each other's rows.
        self.writer_id = os.urandom(8).hex()
        self._rollups = rollup_store.RollupWriter(self.writer_id, max_rows=30_000)
        self.spooled = self.written = self.duplicates = self.dropped = 0
        self.failures = self.corrupt = 0
        self._lock = threading.Lock()
        self._progress = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._segments: list[_Segment] = []
        self._write_fd = -1
        self._write_size = 0
        self._rotate()
        self._adopt_orphans()
        self._thread = threading.Thread(target=self._run, name="trimtab-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # --- hot path -----------------------------------------------------------

    def record(self, record: CallRecord) -> str:
        """Append to the spool and return the call id; never touches the database."""
        line = record.to_line()
        with self._lock:
            try:
                os.write(self._write_fd, line)
            except OSError as exc:
                self.dropped += 1
                if self.dropped == 1:
                    log.error("trimtab: cannot write the call spool (%s); dropping records", exc)
                return record.id
            self.spooled += 1
            self._write_size += len(line)
            if self._write_size >= self.segment_bytes:
                self._rotate()
            full = self.spooled % self.batch_size == 0
        # Wake the writer for a full batch only; otherwise it comes every `interval`.
        # Waking it per record made one transaction per call: at 1,000 calls/s that
        # cost 0.6 ms of CPU per call (GIL included), against 0.15-0.3 ms batched.
        if full:
            self._wake.set()
        return record.id

    def _rotate(self) -> None:
        """Start a new segment; the old one is sealed and drained, then deleted."""
        name = f"{socket.gethostname()}-{os.getpid()}-{new_call_id()}.jsonl"
        path = self.spool_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        segment = _open_segment(path, blocking=True)
        segment.sealed = False
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._segments[-1].sealed = True
        self._segments.append(segment)
        self._write_fd, self._write_size = fd, 0

    def _adopt_orphans(self) -> None:
        known = {s.path for s in self._segments}
        for path in sorted(self.spool_dir.glob("*.jsonl")):
            if path in known:
                continue
            segment = _open_segment(path, blocking=False)
            if segment is not None:
                log.info("trimtab: replaying spool %s left by a stopped process", path.name)
                with self._lock:
                    self._segments.insert(0, segment)

    # --- background writer ----------------------------------------------------

    backoff = 0.0  # seconds the writer waits after a failed insert; 0 when healthy

    def _run(self) -> None:
        backoff = 0.0
        last_scan = time.monotonic()
        while True:
            self._wake.wait(self.interval if backoff == 0 else backoff)
            self._wake.clear()
            stopping = self._stop.is_set()
            try:
                self._drain()
                backoff = self.backoff = 0.0
            except Exception as exc:  # the database is down or refusing: keep spooling
                self.failures += 1
                backoff = self.backoff = min(max(backoff * 2, 0.25), 5.0)
                log.warning("trimtab: recorder insert failed (%s); retrying in %.1fs",
                            exc.__class__.__name__, backoff)
                if stopping:
                    return
            with self._progress:
                self._progress.notify_all()
            if stopping:
                return
            if time.monotonic() - last_scan > 10:
                self._adopt_orphans()
                last_scan = time.monotonic()

    def _drain(self) -> None:
        for segment in list(self._segments):
            while self._drain_batch(segment):
                pass
            if segment.sealed and segment.offset >= os.fstat(segment.fd).st_size:
                with self._lock:
                    self._segments.remove(segment)
                segment.remove()

    def _drain_batch(self, segment: _Segment) -> bool:
        chunk = os.pread(segment.fd, READ_BYTES, segment.offset)
        end = chunk.rfind(b"\n") + 1
        if end == 0 and len(chunk) == READ_BYTES:  # one record larger than a read
            size = os.fstat(segment.fd).st_size
            chunk = os.pread(segment.fd, size - segment.offset, segment.offset)
            end = chunk.rfind(b"\n") + 1
        if end == 0:
            if segment.sealed and chunk:  # a torn last line from a killed process
                self.corrupt += 1
                segment.offset += len(chunk)
                segment.save()
            return False
        lines = chunk[:end].split(b"\n")[:-1][: self.batch_size]
        consumed = sum(len(line) + 1 for line in lines)
        rows = []
        for line in lines:
            try:
                rows.append(row_from_spool(line))
            except (ValueError, KeyError, TypeError):
                self.corrupt += 1
        try:
            with self.store.ingest() as conn:
                inserted = call_store.insert_many(conn, rows)
                if inserted:
                    # A replay can repeat an id inside one batch: count each row once.
                    fresh = {r["id"]: r for r in reversed(rows) if r["id"] in inserted}
                    self._rollups.apply(conn, list(fresh.values()))
        except BaseException:
            self._rollups.failed()
            raise
        self._rollups.committed()
        self.written += len(inserted)
        self.duplicates += len(rows) - len(inserted)
        segment.offset += consumed
        segment.save()
        return True

    # --- lifecycle ------------------------------------------------------------

    def pending(self) -> int:
        """Bytes spooled but not yet in the database."""
        with self._lock:
            segments = list(self._segments)
        return sum(max(os.fstat(s.fd).st_size - s.offset, 0) for s in segments)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every spooled record is in the database; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending() > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._thread.is_alive():
                return False
            if not self.backoff:  # a writer backing off from a down store keeps its pace
                self._wake.set()
            with self._progress:
                self._progress.wait(min(remaining, 0.1))
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Flush, stop the writer, and remove the spool if it is fully drained."""
        if self._stop.is_set():
            return
        drained = self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        left = 0 if drained else self.pending()
        with contextlib.suppress(OSError):
            os.close(self._write_fd)
        for segment in self._segments:
            if drained:
                segment.remove()
            else:
                with contextlib.suppress(OSError):
                    os.close(segment.fd)
                    os.close(segment.checkpoint_fd)
        if not drained:
            log.warning("trimtab: %d bytes of calls stay spooled in %s; the next recorder "
                        "replays them", left, self.spool_dir)
        atexit.unregister(self.close)

    def stats(self) -> dict[str, int]:
        return {
            "spooled": self.spooled, "written": self.written, "duplicates": self.duplicates,
            "dropped": self.dropped, "failures": self.failures, "corrupt": self.corrupt,
            "pending_bytes": self.pending(),
        }
