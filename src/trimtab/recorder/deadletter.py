"""Records the store refuses: set aside, so one bad row never stops the writer.

A batch that fails because of what one of its rows holds (a value its
column cannot take, an integer past its range, a type the driver cannot
send) would fail the same way on every retry, and everything spooled behind
it would wait forever. So the drainer tells such a failure from the store
being down or busy (``store.bulk.row_fault``), splits the batch in halves until the
refused rows stand alone, stores the rest, and appends each refused record
here, in ``<spool>/dead-letter/calls.jsonl`` (0600): one JSON object a line
with the time, the call id, the database's error and the spool line itself
(``record``), so it can be fixed and recorded again. Each is counted
(``quarantined``, the ``trimtab_recorder_quarantined`` metric) and logged at
error level, at most once every ``LOG_EVERY`` seconds with the count since.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from trimtab import jsontext

log = logging.getLogger("trimtab.recorder.recorder")

FOLDER = "dead-letter"
FILE = "calls.jsonl"
LOG_EVERY = 10.0
class DeadLetters:
    """The dead-letter file of one spool folder, opened on first use."""

    def __init__(self, spool_dir: Path):
        self.path = spool_dir / FOLDER / FILE
        self.count = 0
        self._logged_at = float("-inf")
        self._unlogged = 0

    def put(self, call_id: str, line: bytes, error: BaseException) -> None:
        """Append one refused record; log it (rate-limited) and count it."""
        reason = f"{type(error).__name__}: {_first_line(error)}"[:500]
        head = jsontext.dumpb({"time": datetime.now(UTC).isoformat(), "call_id": call_id,
                               "error": reason})
        entry = head[:-1] + b',"record":' + line.rstrip(b"\n") + b"}\n"
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, entry)
        finally:
            os.close(fd)
        self.count += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            log.error("trimtab: the store refused %d call record(s) (latest: call %s, %s); "
                      "set aside in %s, the rest is recorded", self._unlogged, call_id,
                      reason, self.path)
            self._logged_at, self._unlogged = now, 0


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else ""
