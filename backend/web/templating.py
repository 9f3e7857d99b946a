"""Jinja templates: one loader per domain package, translated per request."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, PrefixLoader, select_autoescape

from backend.core.time import to_brussels
from backend.web import i18n

DOMAINS = (
    "web",
    "accounts",
    "invoicing",
    "collection",
    "devices",
    "notifications",
    "payments",
    "marketplace",
    "contracts",
    "timesheets",
)


def _build_environment() -> Environment:
    loaders = {}
    for domain in DOMAINS:
        directory = i18n.BACKEND_DIR / domain / "templates"
        if directory.is_dir():
            loaders[domain] = FileSystemLoader(directory)
    environment = Environment(
        loader=PrefixLoader(loaders),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.policies["ext.i18n.trimmed"] = True
    return environment


environment = _build_environment()


def language_context(language: str) -> dict[str, Any]:
    """Template helpers bound to one language (gettext for ``{% trans %}`` and ``_()``)."""
    gettext = i18n.gettext_for(language)
    ngettext = i18n.ngettext_for(language)
    return {
        "lang": language,
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "money": lambda amount, currency="EUR": i18n.format_money(amount, language, currency),
        "day": lambda value, form="long": i18n.format_day(value, language, form),
        "moment": lambda value, form="medium": i18n.format_moment(value, language, form),
        "number": lambda value: i18n.format_number(value, language),
        "brussels": to_brussels,
        "languages": i18n.LANGUAGES,
        "language_names": i18n.LANGUAGE_NAMES,
    }


def render_text(template_name: str, language: str, **context: Any) -> str:
    """Render a template outside a request (letters, e-mails, call scripts)."""
    template = environment.get_template(template_name)
    return template.render(**language_context(language), **context)


def render(request: Request, template_name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    from backend.web.security import csrf_token, pop_flashes

    language = request.state.language
    template = environment.get_template(template_name)
    html = template.render(
        **language_context(language),
        request=request,
        user=getattr(request.state, "user", None),
        csrf_token=csrf_token(request),
        flashes=pop_flashes(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
