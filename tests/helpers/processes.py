"""`trimtab` commands run as their own processes, the way an operator starts them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listens(pid: int, port: int) -> bool:
    """Whether ``pid`` or a child of it holds the socket listening on loopback
    ``port`` (and not some other test's server that took the port first)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":  # LISTEN
            inodes.add(f"socket:[{fields[9]}]")
    pids = [pid]  # the process and its children (a server may bind in one)
    for each in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{each}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
            for fd in Path(f"/proc/{each}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return True
    return False


def start(project_dir, database_url, *args: str) -> tuple[subprocess.Popen, str]:
    """`trimtab ARGS --port P` in a new process; returns once /healthz answers.

    The port is free when picked but the child binds it a moment later; another
    test (the suite runs in parallel workers) may take it meanwhile. A child that
    exits saying so is started again on another port."""
    for _ in range(5):
        port = free_port()
        env = {**os.environ, "TRIMTAB_PROJECT": str(project_dir),
               "TRIMTAB_DATABASE_URL": database_url}
        # A session of its own: a start that fails is ended with every worker it forked,
        # which would otherwise keep the output pipe open and the read below waiting.
        process = subprocess.Popen(
            [sys.executable, "-c", "from trimtab.cli import main; main()", *args,
             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # workers on two loaded cores: seconds each
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200 and listens(process.pid, port):
                    return process, url
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                output = process.communicate(timeout=30)[0].decode()
                if process.returncode != -9 and "address already in use" in output.lower():
                    break  # taken between free_port() and the child's bind: another port
                raise AssertionError("did not start:\n" + output)
            time.sleep(0.05)
    raise AssertionError(f"did not start: five ports in a row were taken ({output})")
