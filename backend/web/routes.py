from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(request: Request):
    if getattr(request.state, "user", None) is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/invoices", status_code=303)


@router.get("/healthz", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}
