"""Sending alert events: webhooks (JSON over httpx), Slack, Teams, e-mail and
the rest through apprise, and a rule's command with the event on stdin.

Every sender returns an ``Outcome`` instead of raising: a channel that is down
is a fact to record and retry, never a reason for the monitor to stop. Detail
messages name the host, never the full URL, which may carry a token.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from trimtab import plugins
from trimtab.errors import TrimtabError
from trimtab.project.alert_rules import ChannelSpec, RunSpec
from trimtab.project.naming import suggest

if TYPE_CHECKING:
    from trimtab.project.models import Project

log = logging.getLogger("trimtab.observe.alerts")

MAX_PAUSE = 30.0
_APPRISE_TYPES = {"critical": "failure", "warning": "warning", "info": "info"}


class Outcome(NamedTuple):
    ok: bool
    detail: str


def send(channel: ChannelSpec, document: dict[str, Any], *,
         sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Deliver one event through one channel, retrying as the channel says.

    The channel's kind is looked up in the ``trimtab.channels`` entry points
    (webhook and apprise register there too) and called as
    ``deliver(channel, url, document, sleep)``, which returns ``(ok, detail)``.
    """
    try:
        deliver = plugins.load(plugins.CHANNELS, channel.kind)
        url = _resolve_url(channel)
        ok, detail = deliver(channel, url, document, sleep)
        return Outcome(bool(ok), str(detail))
    except (_Unsendable, TrimtabError) as exc:
        return Outcome(False, str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken channel must not stop the monitor
        log.exception("channel failed unexpectedly")
        return Outcome(False, f"unexpected error: {type(exc).__name__}: {exc}")


class _Unsendable(Exception):
    """Configuration that makes sending impossible (an unset variable)."""


def _resolve_url(channel: ChannelSpec) -> str:
    if channel.url is not None:
        return channel.url
    value = os.environ.get(channel.url_env or "", "").strip()
    if not value:
        raise _Unsendable(f"environment variable {channel.url_env} is not set. Fix: export it "
                          "with the channel's URL where the monitor runs.")
    return value


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def _pause(channel: ChannelSpec, attempt: int, retry_after: str | None = None) -> float:
    if retry_after and retry_after.strip().isdigit():
        return min(float(retry_after), MAX_PAUSE)
    return min(channel.backoff * 2 ** attempt, MAX_PAUSE)


def deliver_webhook(channel: ChannelSpec, url: str, document: dict[str, Any],
                    sleep) -> Outcome:
    import httpx

    from trimtab import __version__

    headers = {"User-Agent": f"trimtab/{__version__}", **channel.headers}
    for header, var in channel.headers_env.items():
        value = os.environ.get(var)
        if value is None:
            raise _Unsendable(f"environment variable {var} (header {header}) is not set. "
                              "Fix: export it where the monitor runs.")
        headers[header] = value
    where = _host(url)
    problem = ""
    for attempt in range(channel.retries + 1):
        retry_after = None
        try:
            status, retry_after = _post(url, document, headers, channel.timeout)
        except (_TooLate, httpx.ReadTimeout):
            problem = f"no answer within its timeout of {channel.timeout:g}s"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if status < 300:
                return Outcome(True, f"{where} answered {status}")
            problem = f"HTTP {status}"
            if status < 500 and status != 429:
                return Outcome(False, f"{where} refused the event: {problem} (not retried: "
                               "check the URL and credentials)")
        if attempt < channel.retries:
            sleep(_pause(channel, attempt, retry_after))
    return Outcome(False, f"{where}: {problem} ({_tries(channel)})")


def _post(url: str, document: dict[str, Any], headers: dict[str, str],
          timeout: float) -> tuple[int, str | None]:
    """POST the event once; (status, Retry-After). The answer's body is never read (only
    its status counts), so an endpoint answering 10 GB costs nothing, and the whole
    attempt ends ``timeout`` seconds after it began: httpx's timeout bounds each silence,
    so an endpoint sending a byte a second held the monitor for ever."""
    import httpx

    with _Deadline(timeout) as deadline, httpx.Client(timeout=timeout, headers=headers) as client:
        try:
            with client.stream("POST", url, json=document,
                               extensions={"trace": deadline.trace}) as response:
                return response.status_code, response.headers.get("retry-after")
        except httpx.HTTPError:
            if deadline.expired:
                raise _TooLate from None
            raise


class _TooLate(Exception):
    """The attempt's deadline passed before the answer's head arrived."""


class _Deadline:
    """Shuts the sockets of one attempt once ``seconds`` have passed since it began.

    The sockets are learnt from httpcore's trace events (the TCP connection, then its TLS
    layer, a proxy's included); shutting one down wakes the read that waits on it, which
    then fails as a closed connection.
    """

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        found = info.get("return_value")
        sock = found.get_extra_info("socket") if found is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:  # the plain socket's shutdown, also under TLS: it only ends the reads and writes
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _tries(channel: ChannelSpec) -> str:
    tries = channel.retries + 1
    return f"{tries} attempt{'s' * (tries > 1)}"


def render(document: dict[str, Any]) -> tuple[str, str]:
    """A title and body for people (chat, e-mail); webhooks get the JSON itself."""
    if document.get("test"):
        title = "[TEST] trimtab alert channel"
    else:
        title = (f"[{document['state'].upper()}] {document['severity']}: {document['rule']} "
                 f"({document['system']})")
    lines = [document["summary"]]
    if document.get("description"):
        lines.append(document["description"])
    lines.append(f"{document['detail']} · {document['time']} · project {document['project']}")
    return title, "\n".join(lines)


def deliver_apprise(channel: ChannelSpec, url: str, document: dict[str, Any],
                    sleep) -> Outcome:
    try:
        import apprise
    except ImportError:
        raise _Unsendable("kind: apprise needs the apprise package. Fix: "
                          "pip install 'trimtab[alerts]'") from None
    scheme = url.split("://", 1)[0]
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise _Unsendable(f"apprise does not understand a {scheme}:// URL. Fix: see "
                          "https://github.com/caronc/apprise/wiki for the URL of your service.")
    title, body = render(document)
    kind = "success" if document["state"] == "resolved" else \
        _APPRISE_TYPES.get(document["severity"], "info")
    problem = ""
    for attempt in range(channel.retries + 1):
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            # The body is plain text with line breaks: said so, apprise turns them into
            # <br/> for HTML targets (e-mail); unsaid, an e-mail showed one long line.
            ok = notifier.notify(title=title, body=body, notify_type=kind,
                                 body_format=apprise.NotifyFormat.TEXT)
            problem = captured.getvalue().strip().splitlines()[-1:] or ["no reason given"]
        if ok:
            return Outcome(True, f"sent through {scheme}://")
        if attempt < channel.retries:
            sleep(_pause(channel, attempt))
    return Outcome(False, f"{scheme}://: {problem[0].rstrip('.')} ({_tries(channel)})")


#: The end of a command's output read back for its outcome; what comes before is skipped,
#: so a command that prints gigabytes costs disk in a temporary file, never memory.
OUTPUT_TAIL = 8192
#: The longest last line an outcome quotes.
LINE_LIMIT = 300


def run_command(run: RunSpec, document: dict[str, Any], cwd: Path | None) -> Outcome:
    """Run the rule's command once with the event as JSON on stdin.

    Never retried: a command may start something expensive (a retraining run)
    that must not start twice. Its output goes to unnamed temporary files, not
    pipes, and only its own exit is awaited: a command that starts a job in the
    background (``sh -c "retrain &"``) and exits 0 succeeds at once, instead of
    holding the monitor until its timeout because the job kept the pipe open.
    It leads a process group of its own, so a timeout kills the processes it
    started with it.
    """
    argv = shlex.split(run.command) if isinstance(run.command, str) else list(run.command)
    env = {**os.environ, "TRIMTAB_ALERT_RULE": document["rule"],
           "TRIMTAB_ALERT_STATE": document["state"], "TRIMTAB_ALERT_SYSTEM": document["system"],
           "TRIMTAB_ALERT_SEVERITY": document["severity"]}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=stdout,
                                       stderr=stderr, cwd=cwd, env=env, start_new_session=True)
        except FileNotFoundError:
            return Outcome(False, f"command not found: {argv[0]} (looked in {cwd} and PATH)")
        except PermissionError:
            return Outcome(False, f"command {argv[0]} is not executable. Fix: chmod +x it.")
        except (OSError, ValueError) as exc:  # no #! line (ENOEXEC), a NUL in the environment
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return Outcome(False, f"command {argv[0]} could not start: {reason}")
        try:
            process.communicate(json.dumps(document).encode(), timeout=run.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return Outcome(False, f"{argv[0]} ran past its timeout of {run.timeout:g}s and was "
                           "killed, with the processes it started")
        last = _last_line(stderr) or _last_line(stdout)
    said = f": {last}" if last else ""
    if process.returncode < 0:
        try:
            name = signal.Signals(-process.returncode).name
        except ValueError:
            name = f"signal {-process.returncode}"
        return Outcome(False, f"{argv[0]} was killed by {name}{said}")
    if process.returncode != 0:
        return Outcome(False, f"{argv[0]} exited {process.returncode}{said}")
    return Outcome(True, f"{argv[0]} exited 0")


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the command and everything in its process group, then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _last_line(output) -> str:
    """The last non-empty line of a command's output, read from its end only."""
    size = output.seek(0, os.SEEK_END)
    output.seek(max(size - OUTPUT_TAIL, 0))
    lines = output.read().decode(errors="replace").strip().splitlines()
    last = lines[-1].strip() if lines else ""
    return last if len(last) <= LINE_LIMIT else last[:LINE_LIMIT - 1] + "…"


def test_document(project: str, channel: str) -> dict[str, Any]:
    """What `trimtab alerts test` sends: shaped like a real event, marked test."""
    return {
        "kind": "trimtab.alert", "version": 1, "event_id": None, "test": True,
        "project": project, "state": "firing", "rule": "trimtab-test", "description": "",
        "system": "-", "env": None, "severity": "info", "metric": "-", "value": None,
        "comparator": ">", "threshold": 0.0, "window": "-", "for": "0",
        "time": datetime.now(UTC).isoformat(), "active_since": None, "reason": "test",
        "detail": f"sent by `trimtab alerts test {channel}`",
        "summary": f"Test message from trimtab: channel {channel!r} works.",
    }


def send_test(project: Project, name: str) -> Outcome:
    """Send a test message through a declared channel now (`trimtab alerts test`)."""
    channels = project.spec.channels
    if name not in channels:
        raise TrimtabError(
            f"unknown channel {name!r}.{suggest(name, channels)} "
            f"{project.path.name} declares: {', '.join(channels) or 'none'}. "
            "Fix: add it under `channels:`."
        )
    return send(channels[name], test_document(project.spec.project, name))
