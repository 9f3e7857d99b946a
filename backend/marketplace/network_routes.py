"""Pages of the network (contacts and their messages) and of in-app notifications."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session

from backend.accounts.models import User
from backend.marketplace import contacts, notices
from backend.marketplace.views import Transaction, done, redirect
from backend.web.deps import current_user
from backend.web.security import verify_csrf
from backend.web.templating import render

router = APIRouter()


@router.get("/network", include_in_schema=False)
def network_page(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    return render(request, "marketplace/network.html", network=contacts.network(session, user))


@router.post("/network/requests", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def request_connection(request: Request, user_id: int = Form(...), next_url: str = Form("/network", alias="next"),
                       user: User = Depends(current_user), session: Session = Transaction):
    contacts.request_connection(session, user, user_id)
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/network"
    return done(request, "Your contact request is sent.", next_url)


@router.post("/network/{connection_id}/accept", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def accept_connection(request: Request, connection_id: int, user: User = Depends(current_user),
                      session: Session = Transaction):
    contacts.answer_request(session, user, connection_id, accept=True)
    return done(request, "You are now in contact.", f"/network/{connection_id}")


@router.post("/network/{connection_id}/decline", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def decline_connection(request: Request, connection_id: int, user: User = Depends(current_user),
                       session: Session = Transaction):
    contacts.answer_request(session, user, connection_id, accept=False)
    return done(request, "Request declined.", "/network")


@router.get("/network/{connection_id}", include_in_schema=False)
def conversation_page(request: Request, connection_id: int, user: User = Depends(current_user),
                      session: Session = Transaction):
    connection, other, messages = contacts.conversation(session, user, connection_id)
    return render(request, "marketplace/conversation.html", connection=connection, other=other,
                  messages=messages)


@router.post("/network/{connection_id}/messages", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def send_message(request: Request, connection_id: int, body: str = Form(...), user: User = Depends(current_user),
                 session: Session = Transaction):
    contacts.send_message(session, user, connection_id, body)
    return redirect(f"/network/{connection_id}#latest")


@router.get("/notifications", include_in_schema=False)
def notifications_page(request: Request, user: User = Depends(current_user),
                       session: Session = Transaction):
    return render(request, "marketplace/notices.html", notices=notices.notices_for_user(session, user.id))


@router.post("/notifications/read", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def mark_all_read(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    notices.mark_all_read(session, user.id)
    return redirect("/notifications")


@router.post("/notifications/{notice_id}/open", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def open_notice(notice_id: int, user: User = Depends(current_user), session: Session = Transaction):
    notice = notices.get_notice(session, user.id, notice_id)
    notices.mark_read(session, notice)
    return redirect(notice.link)
