"""Contacts: requests between freelancers, or a freelancer and a client; messages; recommendations."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, or_, select

from backend.accounts import service as accounts
from backend.accounts.models import User
from backend.core.errors import InvalidInput
from backend.core.time import utcnow
from backend.marketplace import notices, service
from backend.marketplace.errors import (
    AlreadyConnected,
    ConnectionNotAllowed,
    ConnectionNotFound,
    NotAContact,
)
from backend.marketplace.models import (
    Connection,
    ContactMessage,
    Experience,
    FreelancerProfile,
    Recommendation,
)

log = structlog.get_logger(__name__)

MAX_MESSAGE_LENGTH = 5000


def pair_key(first_user_id: int, second_user_id: int) -> str:
    low, high = sorted((first_user_id, second_user_id))
    return f"{low}:{high}"


def request_connection(session: Session, requester: User, addressee_id: int) -> Connection:
    """Ask another user to become a contact. Two clients cannot connect; a freelancer can
    connect with anyone."""
    addressee = accounts.get_user(session, addressee_id)
    if addressee is None or addressee.id == requester.id:
        raise ConnectionNotAllowed()
    if "freelancer" not in (requester.role, addressee.role):
        raise ConnectionNotAllowed()
    key = pair_key(requester.id, addressee.id)
    existing = session.exec(select(Connection).where(Connection.pair_key == key)).first()
    if existing is not None and existing.status != "declined":
        raise AlreadyConnected()

    if existing is None:
        connection = Connection(requester_id=requester.id, addressee_id=addressee.id, pair_key=key)
    else:
        # Asking again after a refusal starts a new request, possibly in the other direction.
        connection = existing
        connection.requester_id, connection.addressee_id = requester.id, addressee.id
        connection.status, connection.created_at, connection.responded_at = "pending", utcnow(), None
    session.add(connection)
    try:
        session.flush()
    except IntegrityError:
        # Both users asked each other at the same moment: the other request won.
        raise AlreadyConnected() from None
    notices.notify(session, [addressee.id], "connection_request", "/network", name=requester.name)
    log.info("connection.requested", connection_id=connection.id, requester_id=requester.id)
    return connection


def get_connection(session: Session, user: User, connection_id: int) -> Connection:
    """Return the connection if ``user`` is one of its two users."""
    connection = session.get(Connection, connection_id)
    if connection is None or user.id not in (connection.requester_id, connection.addressee_id):
        raise ConnectionNotFound(connection_id=connection_id)
    return connection


def answer_request(session: Session, user: User, connection_id: int, *, accept: bool) -> Connection:
    connection = get_connection(session, user, connection_id)
    if connection.addressee_id != user.id or connection.status != "pending":
        raise ConnectionNotFound(connection_id=connection_id)
    connection.status = "accepted" if accept else "declined"
    connection.responded_at = utcnow()
    session.add(connection)
    if accept:
        notices.notify(session, [connection.requester_id], "connection_accepted", f"/network/{connection.id}",
                       name=user.name)
    log.info("connection.answered", connection_id=connection.id, status=connection.status)
    return connection


def other_user_id(connection: Connection, user_id: int) -> int:
    return connection.addressee_id if connection.requester_id == user_id else connection.requester_id


def connection_between(session: Session, first_user_id: int, second_user_id: int) -> Connection | None:
    key = pair_key(first_user_id, second_user_id)
    return session.exec(select(Connection).where(Connection.pair_key == key)).first()


def are_contacts(session: Session, first_user_id: int, second_user_id: int) -> bool:
    connection = connection_between(session, first_user_id, second_user_id)
    return connection is not None and connection.status == "accepted"


@dataclass
class ContactEntry:
    connection: Connection
    other: User
    profile_slug: str | None
    unread: int


@dataclass
class Network:
    contacts: list[ContactEntry]
    incoming: list[ContactEntry]
    outgoing: list[ContactEntry]


def network(session: Session, user: User) -> Network:
    """Return the user's contacts and the requests waiting on either side."""
    query = select(Connection).where(or_(Connection.requester_id == user.id, Connection.addressee_id == user.id),
                                     Connection.status != "declined").order_by(Connection.id.desc())
    connections = list(session.exec(query).all())
    other_ids = [other_user_id(connection, user.id) for connection in connections]
    users = {other.id: other for other in session.exec(select(User).where(User.id.in_(other_ids))).all()}
    slugs = dict(session.exec(select(FreelancerProfile.user_id, FreelancerProfile.slug).where(
        FreelancerProfile.user_id.in_(other_ids), FreelancerProfile.published)).all())
    unread_query = select(ContactMessage.connection_id, sa.func.count()).where(
        ContactMessage.connection_id.in_([connection.id for connection in connections]),
        ContactMessage.sender_id != user.id, ContactMessage.read_at.is_(None)).group_by(ContactMessage.connection_id)
    unread = dict(session.exec(unread_query).all())

    result = Network([], [], [])
    for connection, other_id in zip(connections, other_ids):
        entry = ContactEntry(connection, users[other_id], slugs.get(other_id), unread.get(connection.id, 0))
        if connection.status == "accepted":
            result.contacts.append(entry)
        elif connection.addressee_id == user.id:
            result.incoming.append(entry)
        else:
            result.outgoing.append(entry)
    return result


def send_message(session: Session, user: User, connection_id: int, body: str) -> ContactMessage:
    connection = get_connection(session, user, connection_id)
    if connection.status != "accepted":
        raise NotAContact()
    body = body.strip()
    if not body or len(body) > MAX_MESSAGE_LENGTH:
        raise InvalidInput("Write a message of 1 to {maximum} characters.", maximum=MAX_MESSAGE_LENGTH)
    message = ContactMessage(connection_id=connection.id, sender_id=user.id, body=body)
    session.add(message)
    session.flush()
    notices.notify(session, [other_user_id(connection, user.id)], "contact_message",
                   f"/network/{connection.id}", name=user.name)
    return message


def conversation(session: Session, user: User, connection_id: int) -> tuple[Connection, User, list[ContactMessage]]:
    """Return the connection, the other user and their messages, marking received ones read."""
    connection = get_connection(session, user, connection_id)
    if connection.status != "accepted":
        raise NotAContact()
    other = accounts.get_user(session, other_user_id(connection, user.id))
    messages = list(session.exec(select(ContactMessage).where(ContactMessage.connection_id == connection.id)
                                 .order_by(ContactMessage.id)).all())
    now = utcnow()
    for message in messages:
        if message.sender_id != user.id and message.read_at is None:
            message.read_at = now
            session.add(message)
    return connection, other, messages


def recommend_experience(session: Session, author: User, experience_id: int, text: str) -> Recommendation:
    """Record a contact's recommendation of an experience; only the freelancer's contacts may."""
    experience: Experience = service.get_experience(session, experience_id)
    profile = session.get(FreelancerProfile, experience.profile_id)
    if profile.user_id == author.id or not are_contacts(session, author.id, profile.user_id):
        raise NotAContact()
    text = text.strip()
    if not text or len(text) > MAX_MESSAGE_LENGTH:
        raise InvalidInput("Write a recommendation of 1 to {maximum} characters.", maximum=MAX_MESSAGE_LENGTH)
    existing = session.exec(select(Recommendation).where(Recommendation.experience_id == experience.id,
                                                         Recommendation.author_user_id == author.id)).first()
    recommendation = existing or Recommendation(experience_id=experience.id, author_user_id=author.id,
                                                author_name=author.name, text=text)
    recommendation.text = text
    recommendation.created_at = utcnow()
    session.add(recommendation)
    session.flush()
    notices.notify(session, [profile.user_id], "recommendation", f"/freelancers/{profile.slug}",
                   name=author.name, experience=experience.title)
    return recommendation
