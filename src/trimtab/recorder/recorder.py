"""Recording calls without making the caller wait on the database.

The hot path appends one JSON line to this process's spool segment (an
``os.write``: the bytes are in the kernel, so they survive the process being
killed) and returns. A drainer (see spool.py) reads the spool and inserts
batches, checkpointing how far it got. The spool is the queue: memory stays
bounded by one batch, a database outage only makes the file longer, and any
record not yet checkpointed is replayed, harmlessly, because inserts skip
ids already stored.

The drainer runs as a thread here (``writer="thread"``, the default: right
for scripts and apps that record now and then) or as a child process
(``writer="process"``, what the gateway uses): parsing, aggregating and
inserting tens of thousands of records a second then runs on another core
and never holds this process's GIL, so serving requests does not queue
behind it. The child dies with its parent, exactly as a thread would; what
it had not stored is replayed by the next recorder on the same spool.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from trimtab.errors import RecordingUnavailable
from trimtab.recorder.records import CallRecord
from trimtab.recorder.spool import (
    Drainer,
    OwnerLock,
    glob_escape,
    new_owner,
    pending_bytes,
    segment_path,
)
from trimtab.store import Store
from trimtab.store import drops as drop_store

log = logging.getLogger("trimtab.recorder.recorder")

SEGMENT_BYTES = 64 << 20
BATCH_THREAD = 10_000  # records per transaction, at most
BATCH_PROCESS = 40_000
RESTART_LIMIT = 3  # writer-process crashes in a minute before falling back to a thread
DROP_LOG_SECONDS = 10.0  # at most one log line per this many seconds while records drop
MIN_FREE_BYTES = 64 << 10  # a spool disk with less is full: required calls are refused
DROP_REPORT_SECONDS = 5.0  # drops are told to the store (for the built-in alert) this often


class Recorder:
    def __init__(
        self,
        store: Store,
        spool_dir: Path,
        *,
        batch_size: int | None = None,
        interval: float = 0.05,
        segment_bytes: int = SEGMENT_BYTES,
        writer: Literal["thread", "process"] = "thread",
    ):
        if writer not in ("thread", "process"):
            raise ValueError(f"writer must be 'thread' or 'process', not {writer!r}")
        self.store = store
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        # A writer process has memory of its own to spend: bigger batches write each
        # rollup row once for more calls (a backlog drains about 20% faster).
        self.batch_size = batch_size or (BATCH_PROCESS if writer == "process" else BATCH_THREAD)
        self.interval = interval
        self.segment_bytes = segment_bytes
        self.owner = new_owner()
        self._owner_lock = OwnerLock(self.spool_dir, self.owner)
        self.spooled = self.dropped = 0
        #: Records dropped per (system, env): the alert and the metrics read it.
        self.dropped_by: dict[tuple[str, str], int] = {}
        #: Why the last write failed; None once a record is spooled again.
        self.failing: str | None = None
        self._torn = False
        self._drop_logged = -DROP_LOG_SECONDS
        self._drops_at_log = 0
        self._reported: dict[tuple[str, str], int] = {}  # drops the store has been told of
        self._report_lock = threading.Lock()
        self._reporter: threading.Thread | None = None
        self._lock = threading.Lock()
        self._progress = threading.Condition()
        self._stop = threading.Event()
        #: Set in a forked child until it records: the spool and the writer are the parent's.
        self._inherited = False
        self._segment = 0
        self._write_fd = -1
        self._write_size = 0
        self._rotate()
        self._writer: _ThreadWriter | _ProcessWriter
        if writer == "process":
            self._writer = _ProcessWriter(self)
        else:
            self._writer = _ThreadWriter(self)
        atexit.register(self.close)
        _RECORDERS.add(self)

    # --- a forked child -----------------------------------------------------------

    def forked(self) -> None:
        """In a child made by ``os.fork()`` (gunicorn or uWSGI preloading the app,
        multiprocessing's fork): the segment, the owner lock and the writer are the
        parent's, and no writer thread came along. The child let go of their file
        descriptors at once (never the files: the parent still writes them, and an
        inherited owner lock kept the parent's spool from ever being adopted after
        the parent died), and starts a spool of its own when it first records.
        Before, the child appended to the parent's segment, ``flush()`` returned
        False at once, and the child's ``close()`` at exit deleted the parent's
        segment and owner lock when they happened to be drained."""
        self._lock = threading.Lock()
        self._progress = threading.Condition()
        self._report_lock = threading.Lock()
        self._reporter = None
        if self._stop.is_set():
            return  # closed in the parent: stays closed here
        self._inherited = True
        self.spooled = self.dropped = 0  # the parent's, counted there
        self.dropped_by, self._reported = {}, {}
        for fd in (self._write_fd, self._owner_lock.fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._write_fd = -1
        self._writer.forked()

    def _own_spool(self) -> None:
        """A forked child's first record: a new owner, segment and writer."""
        with self._lock:
            if not self._inherited:
                return
            self.owner = new_owner()
            self._owner_lock = OwnerLock(self.spool_dir, self.owner)
            self.failing, self._torn = None, False
            self._segment, self._write_size = 0, 0
            self._rotate()
            self._writer = (_ProcessWriter(self) if isinstance(self._writer, _ProcessWriter)
                            else _ThreadWriter(self))
            self._inherited = False

    # --- hot path -----------------------------------------------------------

    def record(self, record: CallRecord, *, required: bool = False) -> str:
        """Append to the spool and return the call id; never touches the database.

        A write the disk cannot take (full, failing) is undone, so no torn line is
        left for the next record to be glued to, and the record is dropped:
        counted, logged at most every ``DROP_LOG_SECONDS``, and ``RecordingUnavailable``
        raised when ``required`` (the caller then fails the call instead of
        answering it unrecorded).
        """
        line = record.to_line()
        if self._inherited:
            self._own_spool()
        with self._lock:
            if self._write_fd < 0:
                self._dropped(record, "the recorder is closed", required)
                return record.id
            if self._torn:  # a torn tail could not be cut off: end it as a line of its own
                line = b"\n" + line
            try:
                written = os.write(self._write_fd, line)
                while written < len(line):  # a short write: the rest, or the error why not
                    written += os.write(self._write_fd, memoryview(line)[written:])
            except OSError as exc:
                self._undo_torn_write()
                self._dropped(record, f"cannot write the call spool ({exc})", required)
                return record.id
            self._torn = False
            self.failing = None
            self.spooled += 1
            self._write_size += len(line)
            if self._write_size >= self.segment_bytes:
                self._rotate()
            full = self.spooled % self.batch_size == 0
        # Wake the writer for a full batch only; otherwise it comes every `interval`.
        # Waking it per record made one transaction per call: at 1,000 calls/s that
        # cost 0.6 ms of CPU per call (GIL included), against 0.15-0.3 ms batched.
        if full:
            self._writer.wake()
        return record.id

    def _undo_torn_write(self) -> None:
        """Cut what a failed write left off the segment's end (truncating needs no
        space); if even that fails, the next record starts on a new line."""
        try:
            os.ftruncate(self._write_fd, self._write_size)
        except OSError:
            self._torn = True
            with contextlib.suppress(OSError):
                self._write_size = os.fstat(self._write_fd).st_size

    def _dropped(self, record: CallRecord, why: str, required: bool) -> None:
        """Count a record that could not be spooled; say so, at a rate limit (a full
        disk under load drops thousands a second)."""
        self.dropped += 1
        where = (record.system, record.env)
        self.dropped_by[where] = self.dropped_by.get(where, 0) + 1
        self.failing = why
        if self._reporter is None:
            self._reporter = threading.Thread(target=self._report_drops_every,
                                              name="trimtab-drops", daemon=True)
            self._reporter.start()
        now = time.monotonic()
        if now - self._drop_logged >= DROP_LOG_SECONDS:
            unlogged = self.dropped - self._drops_at_log
            log.error("trimtab: %s; %d call record%s dropped since the last message (%d in "
                      "all); systems that require recording fail their calls", why, unlogged,
                      "" if unlogged == 1 else "s", self.dropped)
            self._drop_logged, self._drops_at_log = now, self.dropped
        if required:
            raise RecordingUnavailable(
                f"the call could not be recorded ({why}) and system {record.system!r} "
                "requires recording; retry shortly, or on another replica")

    def _report_drops_every(self) -> None:
        while not self._stop.wait(DROP_REPORT_SECONDS):
            self.report_drops()

    def report_drops(self) -> bool:
        """Tell the store how many records each (system, env) dropped since the last
        report, straight (the spool is what failed): the built-in alert rule
        ``recording-dropped`` reads it wherever the monitor runs. False if the store
        did not take it (the counts are kept for the next report)."""
        with self._report_lock:
            with self._lock:
                counts = {where: n - self._reported.get(where, 0)
                          for where, n in self.dropped_by.items()}
            counts = {where: n for where, n in counts.items() if n > 0}
            if not counts:
                return True
            try:
                with self.store.write() as conn:
                    drop_store.add(conn, self.owner, datetime.now(UTC), counts)
            except Exception as exc:  # noqa: BLE001 - the store is down too: next time
                log.warning("trimtab: cannot report %d dropped call records to the store "
                            "(%s); retrying", sum(counts.values()), type(exc).__name__)
                return False
            for where, n in counts.items():
                self._reported[where] = self._reported.get(where, 0) + n
            return True

    def writable(self) -> bool:
        """Whether a record would probably reach the spool: True unless the last
        write failed and the disk still has no room (``MIN_FREE_BYTES``). Cheap
        enough to ask before each call that requires recording."""
        if self.failing is None:
            return True
        return self.free_bytes() >= MIN_FREE_BYTES

    def free_bytes(self) -> int:
        """Room left on the spool's file system (for the writing process)."""
        try:
            found = os.statvfs(self.spool_dir)
        except OSError:
            return 0
        return found.f_bavail * found.f_frsize

    def health(self) -> dict[str, object]:
        """What ``/healthz`` says of recording: ``ok``, or ``degraded`` (with why) while
        the spool cannot be written or its disk has no room."""
        free = self.free_bytes()
        state: dict[str, object] = {"status": "ok", "dropped": self.dropped}
        if self.failing is not None and free < MIN_FREE_BYTES:
            state.update(status="degraded", reason=self.failing)
        elif free < MIN_FREE_BYTES:
            state.update(status="degraded", reason=f"the spool's disk has {free} bytes free")
        return state

    def _rotate(self) -> None:
        """Start a new segment; the drainer then treats the old one as sealed."""
        path = segment_path(self.spool_dir, self.owner, self._segment + 1)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:
            if self._write_fd < 0:
                raise  # no segment at all: the recorder cannot start
            return  # a full disk has no room for a new file: keep appending to this one
        self._segment += 1
        if self._write_fd >= 0:
            os.close(self._write_fd)
        self._write_fd, self._write_size = fd, 0

    # --- lifecycle ------------------------------------------------------------

    @property
    def backoff(self) -> float:
        """Seconds the writer waits after a failed insert; 0 when healthy."""
        return self._writer.stats().get("backoff", 0.0)

    def pending(self) -> int:
        """Bytes spooled (by this process, or adopted from a dead one) not yet stored."""
        if self._inherited:
            return 0  # a forked child that has not recorded: the spool is its parent's
        adopted = self._writer.stats().get("adopted_pending", 0)
        return pending_bytes(self.spool_dir, self.owner) + int(adopted)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every spooled record is in the database; False on timeout."""
        if self._inherited:
            return True  # nothing recorded in this (forked) process
        deadline = time.monotonic() + timeout
        while not self._writer.ready() or self.pending() > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._writer.alive():
                return False
            if not self.backoff:  # a writer backing off from a down store keeps its pace
                self._writer.wake()
            with self._progress:
                self._progress.wait(min(remaining, 0.1))
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Flush, stop the writer, and remove the spool if it is fully drained."""
        if self._stop.is_set():
            return
        if self._inherited:  # a forked child that never recorded: nothing here is its own
            self._stop.set()
            atexit.unregister(self.close)
            return
        with self._lock:  # nothing recorded from here on can reach a segment being removed
            write_fd, self._write_fd = self._write_fd, -1
        with contextlib.suppress(OSError):
            os.close(write_fd)
        self.flush(timeout)
        self._stop.set()
        if self._reporter is not None:
            self.report_drops()
        # Drained only if the writer's last round (owner gone: every segment sealed,
        # drained and removed) went through: what it could not store stays for replay.
        stopped_cleanly = self._writer.stop()
        left = self.pending()
        drained = stopped_cleanly and left == 0
        if drained:
            for path in self.spool_dir.glob(f"{glob_escape(self.owner)}.*"):
                if path.suffix in (".jsonl", ".offset"):
                    path.unlink(missing_ok=True)
        self._owner_lock.release(remove=drained)
        if not drained:
            log.warning("trimtab: %d bytes of calls stay spooled in %s; the next recorder "
                        "replays them", left, self.spool_dir)
        atexit.unregister(self.close)

    def stats(self) -> dict[str, int]:
        counts = {} if self._inherited else self._writer.stats()
        return {
            "spooled": self.spooled, "written": int(counts.get("written", 0)),
            "duplicates": int(counts.get("duplicates", 0)), "dropped": self.dropped,
            "failures": int(counts.get("failures", 0)), "corrupt": int(counts.get("corrupt", 0)),
            "quarantined": int(counts.get("quarantined", 0)),
            "pending_bytes": self.pending(),
        }

    def _progressed(self) -> None:
        with self._progress:
            self._progress.notify_all()


class _ThreadWriter:
    """The drainer on a daemon thread of this process."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self.drainer = Drainer(recorder.store, recorder.spool_dir, recorder.owner,
                               owner_alive=lambda: not recorder._stop.is_set(),
                               batch_size=recorder.batch_size)
        self.drainer.scan(orphans=True)  # adopt what dead processes left before returning
        self._wake = threading.Event()
        self._healthy = True
        self._thread = threading.Thread(target=self._run, name="trimtab-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        drainer, recorder = self.drainer, self.recorder
        while True:
            self._wake.wait(drainer.backoff or recorder.interval)
            self._wake.clear()
            stopping = recorder._stop.is_set()
            drainer.scan()
            self._healthy = drainer.drain_or_back_off()
            recorder._progressed()
            if stopping:
                return

    def wake(self) -> None:
        self._wake.set()

    def forked(self) -> None:
        """In a forked child: close the copies of the parent's segments (their drain
        locks stay the parent's)."""
        self.drainer.release()

    def ready(self) -> bool:
        return True

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> dict[str, float]:
        return self.drainer.stats()

    def stop(self) -> bool:
        """Run the last round; True if it stored everything it held."""
        self._wake.set()
        self._thread.join(timeout=5)
        if self._thread.is_alive():  # stuck on the store: it keeps its segments' locks
            return False
        self.drainer.release()
        return self._healthy


class _ProcessWriter:
    """The drainer in a child process (``python -m trimtab.recorder.writer_process``).

    It gets its settings on stdin, then a byte per wake-up; its stdout brings
    back one JSON line of counters per round. EOF on its stdin tells it the
    parent died. If it crashes it is restarted; after RESTART_LIMIT crashes in
    a minute the recorder falls back to a thread.
    """

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self._counts: dict[str, float] = {}  # the running child's, as it last reported
        self._earlier: dict[str, float] = {}  # what children before it wrote
        self._ready = threading.Event()
        self._fallback: _ThreadWriter | None = None
        self._crashes: list[float] = []
        self._restarting = threading.Lock()  # a restart and stop() never interleave
        self._start()

    def _start(self) -> None:
        recorder = self.recorder
        self._ready.clear()
        # The child imports this very trimtab, however this process found it.
        here = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
        self._child = subprocess.Popen(
            [sys.executable, "-m", "trimtab.recorder.writer_process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True,
            env={**os.environ, "PYTHONPATH": path},
        )
        settings = {"url": recorder.store.url, "spool_dir": str(recorder.spool_dir),
                    "owner": recorder.owner, "batch_size": recorder.batch_size,
                    "interval": recorder.interval}
        with contextlib.suppress(OSError):  # it died at once: the reader restarts it
            self._child.stdin.write(json.dumps(settings).encode() + b"\n")
            os.set_blocking(self._child.stdin.fileno(), False)  # wake-ups never block a call
        self._reader = threading.Thread(target=self._read, args=(self._child,),
                                        name="trimtab-recorder-reader", daemon=True)
        self._reader.start()

    def _read(self, child: subprocess.Popen) -> None:
        for line in io.BufferedReader(child.stdout):
            try:
                self._counts = json.loads(line)
            except ValueError:
                continue
            self._ready.set()
            self.recorder._progressed()
        child.wait()
        with self._restarting:
            if self.recorder._stop.is_set():
                return
            self._earlier, self._counts = _added(self._earlier, self._counts), {}
            now = time.monotonic()
            self._crashes = [t for t in self._crashes if now - t < 60] + [now]
            if len(self._crashes) >= RESTART_LIMIT:
                log.error("trimtab: the recorder's writer process keeps exiting (code %s); "
                          "writing from a thread instead", child.returncode)
                self._fallback = _ThreadWriter(self.recorder)
            else:
                log.warning("trimtab: the recorder's writer process exited (code %s); "
                            "restarting", child.returncode)
                time.sleep(0.2)
                self._start()
        self.recorder._progressed()

    def forked(self) -> None:
        """In a forked child: close its copies of the pipes to the parent's writer
        process, sending nothing (a stop byte would end the parent's writer), so the
        writer still sees EOF when the parent dies."""
        for pipe in (self._child.stdin, self._child.stdout):
            with contextlib.suppress(OSError, ValueError):
                pipe.close()
        if self._fallback is not None:
            self._fallback.forked()

    def _send(self, data: bytes) -> None:
        with contextlib.suppress(OSError, ValueError):  # full pipe: it is awake anyway
            self._child.stdin.write(data)

    def wake(self) -> None:
        if self._fallback is not None:
            return self._fallback.wake()
        self._send(b"w")

    def ready(self) -> bool:
        """The child has scanned the spool (and adopted orphans) at least once."""
        return self._fallback is not None or self._ready.is_set()

    def alive(self) -> bool:
        if self._fallback is not None:
            return self._fallback.alive()
        return True  # a dead child is restarted by the reader thread

    def stats(self) -> dict[str, float]:
        current = self._fallback.stats() if self._fallback is not None else self._counts
        return _added(self._earlier, current)

    def stop(self) -> bool:
        """Ask the child for its last round; True if it stored everything it held."""
        with self._restarting:  # _stop is set: whatever runs now is the last writer
            fallback, child = self._fallback, self._child
        if fallback is not None:
            return fallback.stop()
        with contextlib.suppress(OSError, ValueError):
            os.set_blocking(child.stdin.fileno(), True)
            child.stdin.write(b"s")
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        self._reader.join(timeout=5)
        return child.returncode == 0


#: Every recorder, for the fork handler (weak: one nobody holds just goes).
_RECORDERS: weakref.WeakSet[Recorder] = weakref.WeakSet()


def _forked() -> None:
    for recorder in list(_RECORDERS):
        recorder.forked()


os.register_at_fork(after_in_child=_forked)


def _added(earlier: dict[str, float], current: dict[str, float]) -> dict[str, float]:
    """Counters summed over writers; gauges (backoff, adopted_pending) are the current one's."""
    total = dict(current)
    for name in ("written", "duplicates", "failures", "corrupt", "quarantined"):
        total[name] = earlier.get(name, 0) + current.get(name, 0)
    return total
