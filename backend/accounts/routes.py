from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from backend.accounts import service
from backend.web.deps import db_session, page_language
from backend.web.security import flash, verify_csrf
from backend.web.templating import render

router = APIRouter()


def _start_session(request: Request, user) -> None:
    language = request.session.get("lang")
    # Clearing drops the anonymous CSRF token too, so a token planted before login is useless.
    request.session.clear()
    request.session["uid"] = user.id
    request.session["lang"] = user.language or language


@router.get("/login")
def login_page(request: Request):
    return render(request, "accounts/login.html")


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login(request: Request, email: str = Form(...), password: str = Form(...),
          session: Session = Depends(db_session, scope="function")):
    user = service.authenticate(session, email=email, password=password)
    _start_session(request, user)
    return RedirectResponse(_home_for(user), status_code=303)


@router.get("/signup")
def signup_page(request: Request):
    return render(request, "accounts/signup.html")


@router.post("/signup", dependencies=[Depends(verify_csrf)])
def signup(request: Request, email: str = Form(...), name: str = Form(...), password: str = Form(...),
           role: str = Form("freelancer"), company_name: str = Form(""), enterprise_number: str = Form(""),
           street: str = Form(""), postal_code: str = Form(""), city: str = Form(""),
           session: Session = Depends(db_session, scope="function"), language: str = Depends(page_language)):
    """Create a freelancer account, or a client account together with its company.

    The session commits before the redirect is sent (scope "function"), so the next page
    finds the new account.
    """
    user = service.sign_up(session, email=email, name=name, password=password, role=role)
    if user.role == "client":
        from backend.marketplace import service as marketplace

        marketplace.create_company(session, user, name=company_name, enterprise_number=enterprise_number,
                                   street=street, postal_code=postal_code, city=city)
    _start_session(request, user)
    flash(request, request.state.gettext("Welcome to Ikki."), "success")
    return RedirectResponse(_home_for(user), status_code=303)


def _home_for(user) -> str:
    """Return the first page after login: clients start from their missions."""
    return "/missions" if user.role == "client" else "/invoices"


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request):
    language = request.session.get("lang")
    request.session.clear()
    if language:
        request.session["lang"] = language
    return RedirectResponse("/login", status_code=303)


@router.post("/language", dependencies=[Depends(verify_csrf)])
def switch_language(request: Request, language: str = Form(...), next_url: str = Form("/", alias="next"),
                    session: Session = Depends(db_session, scope="function")):
    user = getattr(request.state, "user", None)
    chosen = language if language in ("fr", "nl", "en") else None
    if user is not None:
        service.set_language(session, session.merge(user), chosen)
    request.session["lang"] = chosen
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/"
    return RedirectResponse(next_url, status_code=303)
