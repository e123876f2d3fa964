"""The recorder's writer process: drains one owner's spool into the store.

Started by ``Recorder(writer="process")`` as ``python -m trimtab.recorder.writer_process``.
Its stdin brings a JSON line of settings, then a byte per wake-up (``s`` to
drain and stop); EOF means the parent died, and the writer dies at once, as
the parent's own thread would have: what it had not stored stays in the spool
for the next recorder. Each round it prints one JSON line of counters.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path


def main() -> int:
    # Ctrl-C in a terminal (SIGINT) and a service manager's stop (SIGTERM to the whole
    # group, as systemd sends it) reach this process too. Its parent decides when it
    # stops (``s`` on stdin, after its own clean-up) or dies (EOF): dying here first
    # printed a traceback, made the parent start a new writer while it shut down, and
    # left the last records to the next process instead of storing them now.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = json.loads(sys.stdin.buffer.readline())
    wake, stop = threading.Event(), threading.Event()

    def listen() -> None:
        while True:
            try:
                data = os.read(0, 4096)
            except InterruptedError:
                continue
            if not data:
                break
            if b"s" in data:
                stop.set()
            wake.set()
        if not stop.is_set():
            os._exit(0)  # the parent died: so does its writer, as its thread would

    # Listen first: a parent that dies while this one still imports takes it along.
    threading.Thread(target=listen, name="trimtab-writer-stdin", daemon=True).start()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="trimtab writer: %(message)s")

    from trimtab.recorder.spool import Drainer
    from trimtab.store import Store

    # This process only parses and inserts batches: keep the collector off the
    # long-lived objects (SQLAlchemy's, the rollup cache) and let it run rarely.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)

    store = Store(settings["url"], migrate=False)
    drainer = Drainer(store, Path(settings["spool_dir"]), settings["owner"],
                      owner_alive=lambda: not stop.is_set(),
                      batch_size=settings["batch_size"])
    interval = settings["interval"]
    first = True
    last_report = None
    while True:
        if not first:
            wake.wait(drainer.backoff or interval)
            wake.clear()
        stopping = stop.is_set()
        drainer.scan(orphans=True if first else None)
        first = False
        healthy = drainer.drain_or_back_off()
        report = drainer.stats()
        if report != last_report or stopping:
            sys.stdout.write(json.dumps(report) + "\n")
            sys.stdout.flush()
            last_report = report
        if stopping:  # exit 1: the last round failed and the spool stays for replay
            if not healthy:
                drainer.release()
            store.dispose()
            return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
