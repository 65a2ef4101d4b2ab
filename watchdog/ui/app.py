"""Routes of the page. GETs read the store; POSTs (acknowledge, note, resolve) need the token and are audited."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from watchdog.errors import WatchdogError
from watchdog.manifest import Manifest
from watchdog.respond.incidents import IncidentBook, resolve
from watchdog.store import Store
from watchdog.ui import views
from watchdog.ui.auth import Refused, authorize

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
# Scripts and styles come from this page's own static files only: no inline script, no third party.
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def create_app(store: Store, *, token: str | None = None, manifest: Manifest | None = None) -> Starlette:
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    templates.globals["writable"] = bool(token)

    def page(name: str, status: int = 200, **context: object) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status, headers=SECURITY_HEADERS)

    def missing(exc: Exception) -> HTMLResponse:
        return page("error.html", 404, message=str(exc))

    async def index(request: Request) -> Response:
        return page("index.html", **views.index(store))

    async def incident(request: Request) -> Response:
        try:
            return page("incident.html", **views.incident(store, request.path_params["id"], manifest))
        except views.NotFound as exc:
            return missing(exc)

    async def proposal(request: Request) -> Response:
        try:
            return page("proposal.html", **views.proposal(store, request.path_params["id"]))
        except views.NotFound as exc:
            return missing(exc)

    async def write(request: Request) -> Response:
        incident_id, what = request.path_params["id"], request.path_params["what"]
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        try:
            authorize(request, form, token)
        except Refused as exc:
            log.warning("refused a %s on incident %s: %s", what, incident_id, exc.reason)
            return page("error.html", exc.status, message=exc.reason)
        if what not in ("acknowledge", "note", "resolve"):
            return page("error.html", 404, message=f"no such write: {what}")
        actor = (form.get("name") or "responder").strip()[:80]
        try:
            views.incident(store, incident_id, None)  # the incident exists
            if what == "acknowledge":
                IncidentBook(store).note(incident_id, "acknowledged", f"acknowledged by {actor}", actor=actor)
            elif what == "note":
                text = form.get("text", "").strip()[:4000]
                if not text:
                    return page("error.html", 400, message="a note needs some text")
                IncidentBook(store).note(incident_id, "note", f"{actor}: {text}", actor=actor)
            else:
                resolve(store, incident_id, form.get("note", "").strip()[:4000], form.get("root_cause", "").strip()[:4000])
        except (views.NotFound, WatchdogError) as exc:
            return missing(exc)
        store.audit(f"ui:{actor}", f"ui_{what}", str(incident_id), via="web page")
        return RedirectResponse(f"/incidents/{incident_id}", 303, headers=SECURITY_HEADERS)


    return Starlette(routes=[
        Route("/", index),
        Route("/incidents/{id:int}", incident),
        Route("/proposals/{id:int}", proposal),
        Route("/incidents/{id:int}/{what:str}", write, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ])
