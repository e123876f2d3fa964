"""`trimtab` commands run as their own processes, the way an operator starts them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(project_dir, database_url, *args: str) -> tuple[subprocess.Popen, str]:
    """`trimtab ARGS --port P` in a new process; returns once /healthz answers."""
    port = free_port()
    env = {**os.environ, "TRIMTAB_PROJECT": str(project_dir),
           "TRIMTAB_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-c", "from trimtab.cli import main; main()", *args,
         "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("did not start:\n" + process.stdout.read().decode())
        time.sleep(0.05)
