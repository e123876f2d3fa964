"""`trimtab gateway` and `trimtab serve`: the OpenAI-compatible HTTP gateway, and with
`serve` the dashboard, the JSON API and the alert monitor beside it."""

from __future__ import annotations

import typer

from trimtab.cli.output import console, err_console, handles_errors, log_to_stderr, workspace
from trimtab.errors import TrimtabError


def _start(host: str, port: int, workers: int, monitor_interval: float | None,
           web: bool = False) -> None:
    if web:
        try:
            import fastapi  # noqa: F401
            import jinja2  # noqa: F401
        except ImportError as exc:
            raise TrimtabError(f"the dashboard needs the web extra ({exc.name} is missing). "
                               "Fix: pip install 'trimtab[web]', or run `trimtab gateway` "
                               "for the gateway alone.") from None
        from trimtab.web.server import serve
    else:
        from trimtab.gateway.server import serve

    if workers < 1:
        raise TrimtabError(f"--workers {workers}: must be 1 or more.")
    if not 0 < port < 65536:
        raise TrimtabError(f"--port {port}: must be between 1 and 65535.")
    log_to_stderr()
    ws = workspace()
    project = ws.project
    try:
        keys = ws.keys()
    except TrimtabError:  # already says what is wrong and the fix (a newer schema, no server)
        raise
    except Exception as exc:  # noqa: BLE001 - say which store, not a traceback
        raise TrimtabError(f"cannot read the store ({type(exc).__name__}: {exc}). Fix: run "
                           "`trimtab db upgrade` or check TRIMTAB_DATABASE_URL.") from None
    live = sum(1 for k in keys if k.revoked_at is None)
    systems = ", ".join(project.spec.systems) or "none"

    def ready() -> None:
        url = f"http://{host}:{port}/v1"
        console.print(f"trimtab gateway on {url} ({workers} worker{'s' * (workers != 1)}); "
                      f"project {project.spec.project}; systems: {systems}", soft_wrap=True)
        if web:
            console.print(f"dashboard: http://{host}:{port}/  API: http://{host}:{port}/api/v1 "
                          f"(docs /docs, health /healthz, /readyz)" + ("" if not keys else
                          "; sign in with an API key"), soft_wrap=True)
        if not keys:
            err_console.print("[bold yellow]open:[/] no API keys exist, so anyone who can "
                              "reach this port can call. Create one with `trimtab keys create "
                              "APP --env ENV`; from then on every request needs one.",
                              soft_wrap=True)
        else:
            console.print(f"auth: {live} live API key{'s' * (live != 1)}; requests need "
                          "`Authorization: Bearer <key>`")
        if monitor_interval is not None:
            console.print(f"alert monitor: every {monitor_interval:g}s")
        console.print(f"try: curl {url}/models" + ("" if not keys else
                                                   " -H 'Authorization: Bearer <key>'"))

    try:
        serve(ws, host, port, workers, monitor_interval=monitor_interval, on_ready=ready)
    finally:
        ws.close()


@handles_errors
def gateway(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: all)."),
    port: int = typer.Option(4000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w",
                                help="Processes answering calls (about one per core)."),
) -> None:
    """Serve the OpenAI-compatible gateway: POST /v1/chat/completions, GET /v1/models.

    model "trimtab/<system>" runs the system's active release (env from the
    X-Trimtab-Env header, else the key's default, else production); other
    model names pass through to a provider from trimtab.yaml. Every call is
    recorded. Also serves POST /api/v1/records, GET /metrics and GET /healthz.

    Example:

        trimtab gateway --port 4000
    """
    _start(host, port, workers, None)


@handles_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: all)."),
    port: int = typer.Option(4000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w",
                                help="Processes answering calls (about one per core)."),
    interval: str = typer.Option("30s", "--interval", "-i",
                                 help="Time between alert evaluations: 30s, 1m, 5m."),
) -> None:
    """Run everything in one process: the gateway, the dashboard, the JSON API
    (/api/v1, OpenAPI at /openapi.json, docs at /docs), /metrics, /healthz,
    /readyz and the alert monitor. Needs the web extra: pip install 'trimtab[web]'.

    Once a gateway key or a user exists, the dashboard and the API need a user's
    token (`trimtab tokens create`) or a key (a browser signs in with one);
    before, they run in single-user local mode, no login.

    Example:

        trimtab serve --port 4000 --interval 1m
    """
    from trimtab.project.alert_rules import parse_duration

    try:
        seconds = parse_duration(interval).total_seconds()
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise TrimtabError(f"--interval {interval!r}: not a positive duration. Fix: use 30s, "
                           "1m or 5m.")
    _start(host, port, workers, seconds, web=True)
