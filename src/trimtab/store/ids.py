"""Row ids made by the client: time-ordered, so they suit B-trees and monthly
partitions, and known before the database sees them, so a replay is idempotent."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator


def new_call_id() -> str:
    """32 hex chars: microseconds since the epoch, then 72 random bits.

    Time-ordered (B-tree friendly, partition friendly) and made without asking
    the database, so replaying a record can never mint a second id.
    """
    try:
        suffix = next(_suffixes)
    except StopIteration:
        suffix = _refill()
    return f"{time.time_ns() // 1000:014x}{suffix}"


# The random parts, read from os.urandom 512 at a time: a system call per id
# cost 0.5 us and let another thread take the GIL in the middle of record().
# next() on a list iterator is atomic, so threads never share a suffix; two
# threads refilling at once only waste one batch.
_SUFFIXES_PER_READ = 512
_suffixes: Iterator[str] = iter(())


def _refill() -> str:
    global _suffixes
    data = os.urandom(9 * _SUFFIXES_PER_READ).hex()
    batch = iter([data[i:i + 18] for i in range(0, len(data), 18)])
    suffix = next(batch)
    _suffixes = batch
    return suffix


def _forget_suffixes() -> None:
    """A forked child must not hand out the suffixes its parent will."""
    global _suffixes
    _suffixes = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_suffixes)
