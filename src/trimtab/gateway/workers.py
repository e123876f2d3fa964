"""uvicorn's server and worker processes, minus re-raising the stop signal.

uvicorn's ``Server`` re-raises SIGTERM once it has shut down, so that the
process dies of the signal as if it had never caught it: exit 143, and no
``finally`` or ``atexit`` of the process runs after. A gateway (one process,
or each worker of ``--workers N``) has shut down cleanly by then (calls
drained, records stored, spool removed), and ends with exit 0 instead.

Imported only to serve: it loads uvicorn. The worker process class lives at
module level because uvicorn pickles it into each spawned worker.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn
from uvicorn.supervisors import multiprocess

log = logging.getLogger("trimtab.gateway")


class Server(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal once it has shut down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


class WorkerProcess(multiprocess.Process):
    """A ``--workers`` process that runs the server above."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = Server(config=self.config)
        return self._server


def run_workers(config: uvicorn.Config) -> list[int | None]:
    """uvicorn's supervisor with WorkerProcess workers; the workers' exit codes.

    SIGTERM or Ctrl-C to this process reaches every worker, which drains and
    exits 0; a worker that did not is logged, and the caller exits non-zero.
    """
    sock: socket.socket = config.bind_socket()
    original = multiprocess.Process
    multiprocess.Process = WorkerProcess  # the supervisor names it when it starts workers
    try:
        supervisor = multiprocess.Multiprocess(config, sockets=[sock])
        supervisor.run()
    finally:
        multiprocess.Process = original
        sock.close()
    codes = [process.exitcode for process in supervisor.processes]
    for process, code in zip(supervisor.processes, codes, strict=True):
        if code != 0:
            log.error("trimtab: gateway worker %s exited with code %s", process.pid, code)
    return codes
