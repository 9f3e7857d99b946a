from __future__ import annotations

import pytest

from tests.marketplace.factories import cheap_password_hashing


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    cheap_password_hashing(monkeypatch)
