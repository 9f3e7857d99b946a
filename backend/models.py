"""Imports every domain's tables so that SQLModel.metadata and Alembic see them all."""

from backend.accounts.models import User  # noqa: F401
