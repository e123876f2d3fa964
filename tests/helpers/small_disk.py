"""A small real file system (tmpfs) for full-disk tests, and a way to fill it.

The tests run as root in CI, where ``mount -t tmpfs`` works; a disk that fills
for real is the only honest way to see what a short write and ENOSPC do to
the spool (a mock of os.write would test the mock).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def small_disk(path: Path, size: str = "1m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``path`` (created) for the block; unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(
            f"cannot mount a tmpfs on {path} ({done.stderr.strip()}): the full-disk tests "
            "need root (CI runs as root); run them as root or in a container")
    try:
        yield path
    finally:
        # Lazy: a file a dying process still holds must not leave the mount behind.
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, name: str = "filler.bin") -> Path:
    """Write a file until the disk says ENOSPC; remove it to free the space."""
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    block = b"\0" * 4096
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        for size in (1024, 256, 64, 16, 1):  # the last page's slack too
            with contextlib.suppress(OSError):
                while os.write(fd, block[:size]):
                    pass
    finally:
        os.close(fd)
    return path
