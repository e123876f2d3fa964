"""A real HTTP server on loopback that records what it is sent.

Webhook and apprise tests point channels at it: every POST is kept (path,
headers, JSON body) and answered with the next status from ``statuses``
(200 once they run out), so a test can make a channel fail, then recover.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, statuses: list[int] | None = None):
        self.statuses = list(statuses or [])
        self.requests: list[dict] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.arrived:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append({
                        "path": self.path, "headers": dict(self.headers),
                        "body": json.loads(body) if body else None, "status": status,
                    })
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def delivered(self) -> list[dict]:
        """The bodies of requests answered with success."""
        return [r["body"] for r in self.requests if r["status"] < 300]

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Until ``count`` successful deliveries arrived (False on timeout)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.delivered) >= count, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def refused_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
