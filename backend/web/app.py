"""The FastAPI application: middleware, the error handler and every domain's routes."""

from __future__ import annotations

import importlib
import uuid

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlmodel import Session
from starlette.middleware.sessions import SessionMiddleware

from backend.accounts.models import User
from backend.core.db import get_engine
from backend.core.errors import IkkiError, NotAuthenticated
from backend.core.settings import Settings, get_settings
from backend.web import i18n
from backend.web.security import flash
from backend.web.templating import render

log = structlog.get_logger(__name__)

STATIC_DIR = i18n.BACKEND_DIR / "web" / "static"

# Every domain's routes, in the order their paths are matched.
ROUTE_MODULES = (
    "web.routes",
    "accounts.routes",
    "invoicing.routes",
    "collection.routes",
    "collection.dashboard_routes",
    "payments.routes",
    "devices.routes",
    "devices.demo_routes",
    "devices.factory_routes",
    "notifications.routes",
    "notifications.telephony_routes",
    "marketplace.routes",
    "contracts.routes",
    "timesheets.routes",
)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Ikki", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")

    @app.middleware("http")
    async def identify(request: Request, call_next):
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=uuid.uuid4().hex[:12])
        user = None
        user_id = request.session.get("uid")
        if user_id is not None:
            with Session(get_engine(), expire_on_commit=False) as session:
                user = session.get(User, user_id)
            if user is None:
                request.session.pop("uid", None)
        request.state.user = user
        language = i18n.normalize_language(request.session.get("lang"))
        if language is None and user is not None:
            language = user.language
        request.state.language = language or i18n.negotiate_language(request.headers.get("accept-language"))
        request.state.gettext = i18n.gettext_for(request.state.language)
        return await call_next(request)

    # Added last so that it runs first: the session must exist before ``identify``.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="ikki_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=bool(settings.session_cookie_secure),
    )

    @app.exception_handler(IkkiError)
    async def handle_ikki_error(request: Request, error: IkkiError):
        language = getattr(request.state, "language", i18n.DEFAULT_LANGUAGE)
        message = error.render(i18n.gettext_for(language))
        if error.status_code >= 500:
            log.error("request.failed", error=type(error).__name__, message=str(error))
        else:
            log.info("request.rejected", error=type(error).__name__, message=str(error),
                     path=request.url.path)
        if _wants_html(request):
            if isinstance(error, NotAuthenticated):
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            if request.method == "POST":
                flash(request, message, "error")
                referer = request.headers.get("referer", "")
                base = str(request.base_url)
                target = referer if referer.startswith(base) else "/"
                return RedirectResponse(target, status_code=303)
            return render(request, "web/error.html", status_code=error.status_code, message=message)
        return JSONResponse(
            {"error": type(error).__name__, "message": message}, status_code=error.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def handle_validation_error(request: Request, error: RequestValidationError):
        language = getattr(request.state, "language", i18n.DEFAULT_LANGUAGE)
        gettext = i18n.gettext_for(language)
        fields = ", ".join(".".join(str(part) for part in item["loc"][1:]) for item in error.errors())
        message = gettext("Missing or invalid fields: {fields}.").format(fields=fields)
        if _wants_html(request) and request.method == "POST":
            flash(request, message, "error")
            referer = request.headers.get("referer", "")
            target = referer if referer.startswith(str(request.base_url)) else "/"
            return RedirectResponse(target, status_code=303)
        return JSONResponse({"error": "InvalidInput", "message": message, "detail": error.errors()},
                            status_code=422)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    for module_name in ROUTE_MODULES:
        app.include_router(importlib.import_module(f"backend.{module_name}").router)
    return app
