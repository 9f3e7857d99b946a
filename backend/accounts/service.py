"""Accounts: sign-up, login and language preference."""

from __future__ import annotations

import re

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.core.errors import Conflict, IkkiError, InvalidInput
from backend.web.i18n import LANGUAGES

log = structlog.get_logger(__name__)

password_hasher = PasswordHasher()
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
# The column sizes of users.name and users.email.
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
# A freelancer offers work; a client hires for the company it belongs to.
ROLES = ("freelancer", "client")


class InvalidCredentials(IkkiError):
    status_code = 401
    message = "Wrong e-mail address or password."


class EmailAlreadyRegistered(Conflict):
    message = "An account with the e-mail address {email} already exists. Log in instead."


def normalize_email(email: str) -> str:
    return email.strip().lower()


def sign_up(session: Session, *, email: str, name: str, password: str, language: str | None = None,
            role: str = "freelancer", is_demo: bool = False) -> User:
    email = normalize_email(email)
    name = name.strip()
    if not EMAIL_PATTERN.match(email):
        raise InvalidInput("Invalid e-mail address {email}: write it as name@example.be.", email=email)
    if not name:
        raise InvalidInput("The name is missing: write your name or your company's name.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput("The name has {length} characters: shorten it to at most {maximum}.",
                           length=len(name), maximum=MAX_NAME_LENGTH)
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInput("The e-mail address has {length} characters: at most {maximum} are allowed.",
                           length=len(email), maximum=MAX_EMAIL_LENGTH)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "The password is too short: use at least {minimum} characters.", minimum=MIN_PASSWORD_LENGTH
        )
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("Unknown language {language}: choose fr, nl or en.", language=language)
    if role not in ROLES:
        raise InvalidInput("Unknown account type {role}: choose freelancer or client.", role=role)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise EmailAlreadyRegistered(email=email)

    user = User(email=email, name=name, password_hash=password_hasher.hash(password), role=role,
                language=language, is_demo=is_demo)
    session.add(user)
    session.flush()
    log.info("account.signed_up", user_id=user.id, role=role)
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    user = session.exec(select(User).where(User.email == normalize_email(email))).first()
    if user is None:
        # Hash anyway so that response time does not reveal which addresses exist.
        password_hasher.hash(password)
        raise InvalidCredentials()
    try:
        password_hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        log.info("account.login_failed", user_id=user.id)
        raise InvalidCredentials() from None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    log.info("account.logged_in", user_id=user.id)
    return user


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def set_language(session: Session, user: User, language: str | None) -> None:
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("Unknown language {language}: choose fr, nl or en.", language=language)
    user.language = language
    session.add(user)


def ensure_demo_user(session: Session, *, email: str, password: str) -> tuple[User, bool]:
    """Create the demo freelancer unless it exists; returns the user and whether it was created."""
    existing = session.exec(select(User).where(User.email == normalize_email(email))).first()
    if existing is not None:
        return existing, False
    user = sign_up(session, email=email, name="Lien Verbeke", password=password, is_demo=True)
    return user, True
