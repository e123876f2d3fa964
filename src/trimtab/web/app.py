"""The web app: JSON API, dashboard, health and the OpenAPI document, in FastAPI.

``create_app(ws, keys)`` builds it; ``trimtab serve`` puts it behind a small
router beside the gateway (server.py), so none of this runs on the gateway's
routes. The workspace's errors become answers here, in one place: a missing
thing is 404, a refusal by role 403, a state that refuses the change (a frozen
system, nothing left to unfreeze) 409, the store being down 503, any other
mistake 400, always with the message that says what to fix.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from trimtab import __version__
from trimtab.errors import Conflict, NotFound, StoreUnavailable, TrimtabError
from trimtab.govern.roles import PermissionDenied
from trimtab.web import api, api_incidents, api_work, incident_pages, pages, work_pages
from trimtab.web.body_limit import MAX_BODY, BodyLimit
from trimtab.web.schemas import Problem, Ready
from trimtab.web.security import Guard, LoginRequired, SecurityHeaders, load_secret
from trimtab.web.views import render, templates

if TYPE_CHECKING:
    from trimtab.gateway.keyring import KeyRing
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.web")

STATIC = Path(__file__).parent / "static"
DESCRIPTION = """The JSON API of a trimtab workspace: what the CLI shows and changes.

Authenticate with `Authorization: Bearer <token>`: a user's API token (`trimtab tokens
create`; the user's roles apply) or a gateway key (`trimtab keys create`). While no key
and no user exist, the server runs in single-user local mode and needs none."""


def create_app(ws: Workspace, keys: KeyRing, *, hosts: frozenset[str] | None = None,
               secret: bytes | None = None, max_body: int = MAX_BODY) -> FastAPI:
    """The web app over ``ws``; callers are checked against ``keys`` (the gateway's);
    a request body over ``max_body`` bytes is refused (413) as it arrives."""
    app = FastAPI(title="trimtab", version=__version__, description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    app.state.ws = ws
    app.state.guard = Guard(ws, keys, secret or load_secret(ws), hosts)
    app.state.ready = False
    app.state.templates = templates()
    app.add_middleware(BodyLimit, max_body=max_body)  # inside: its 413 gets the headers
    app.add_middleware(SecurityHeaders)
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(api_work.router, prefix="/api/v1")
    app.include_router(api_incidents.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.include_router(work_pages.router)
    app.include_router(incident_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/readyz", response_model=Ready, tags=["health"],
             responses={503: {"model": Problem}})
    async def readyz(request: Request):
        """Ready for traffic: started, not shutting down, and the store answers."""
        if not request.app.state.ready:
            return JSONResponse({"detail": "starting or shutting down"}, 503,
                                headers={"retry-after": "1"})
        await asyncio.to_thread(ws.keys)  # one small read: the store answers
        return {"status": "ready"}

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return render(request, "docs.html", {})

    app.add_exception_handler(TrimtabError, _trimtab_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Exception, _unexpected)
    return app


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path in ("/readyz", "/openapi.json"))


def _problem(request: Request, status: int, message: str,
             headers: dict[str, str] | None = None):
    if _is_page(request):
        return render(request, "error.html", {"status": status, "message": message},
                      status=status, headers=headers)
    return JSONResponse({"detail": message}, status, headers=headers)


async def _trimtab_error(request: Request, exc: Exception):
    if isinstance(exc, StoreUnavailable):
        log.warning("web: %s", exc)
        return _problem(request, 503, str(exc), {"retry-after": "5"})
    status = 404 if isinstance(exc, NotFound) else \
        403 if isinstance(exc, PermissionDenied) else 409 if isinstance(exc, Conflict) else 400
    return _problem(request, status, str(exc))


async def _http_error(request: Request, exc: Exception):
    if _is_page(request):
        assert isinstance(exc, StarletteHTTPException)
        return _problem(request, exc.status_code, str(exc.detail), exc.headers)
    return await http_exception_handler(request, exc)


async def _validation_error(request: Request, exc: Exception):
    if _is_page(request):
        assert isinstance(exc, RequestValidationError)
        parts = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return _problem(request, 400, "bad request: " + "; ".join(parts))
    return await request_validation_exception_handler(request, exc)


async def _login_required(request: Request, exc: Exception):
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", 303)


async def _unexpected(request: Request, exc: Exception):
    log.error("web: %s %s failed", request.method, request.url.path, exc_info=exc)
    return _problem(request, 500, f"internal error ({type(exc).__name__}); the server log "
                    "has the details.")


