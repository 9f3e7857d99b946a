from __future__ import annotations

from datetime import date

import pytest

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.errors import InvalidInput
from backend.marketplace import contacts, service
from backend.marketplace.errors import (
    AlreadyConnected,
    ConnectionNotAllowed,
    ConnectionNotFound,
    NotAContact,
)
from tests.marketplace.factories import make_client, make_freelancer


def people(session):
    client = make_client(session, "buyer@brabo.example")
    other_client = make_client(session, "other@company.example", company="Other NV")
    lien, lien_profile = make_freelancer(session, "lien@example.be", "Lien", skills={"Python": 5})
    thomas, _ = make_freelancer(session, "thomas@example.be", "Thomas", skills={"Go": 4})
    return client, other_client, lien, lien_profile, thomas


def test_request_accept_and_message(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, _, lien, _, thomas = people(session)
        request = contacts.request_connection(session, lien, thomas.id)
        with pytest.raises(AlreadyConnected):
            contacts.request_connection(session, thomas, lien.id)
        with pytest.raises(NotAContact):
            contacts.send_message(session, lien, request.id, "Too early")
        with pytest.raises(ConnectionNotFound):
            contacts.answer_request(session, lien, request.id, accept=True)
        contacts.answer_request(session, thomas, request.id, accept=True)

        contacts.send_message(session, lien, request.id, "Hallo Thomas")
        assert contacts.network(session, thomas).contacts[0].unread == 1
        _, other, messages = contacts.conversation(session, thomas, request.id)
        assert other.id == lien.id
        assert [message.body for message in messages] == ["Hallo Thomas"]
        assert contacts.network(session, thomas).contacts[0].unread == 0

        contacts.request_connection(session, client, lien.id)
        assert [entry.other.id for entry in contacts.network(session, lien).incoming] == [client.id]


def test_two_clients_cannot_connect(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, other_client, lien, _, _ = people(session)
        with pytest.raises(ConnectionNotAllowed):
            contacts.request_connection(session, client, other_client.id)
        with pytest.raises(ConnectionNotAllowed):
            contacts.request_connection(session, lien, lien.id)


def test_declined_request_can_be_asked_again(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        _, _, lien, _, thomas = people(session)
        first = contacts.request_connection(session, lien, thomas.id)
        contacts.answer_request(session, thomas, first.id, accept=False)
        again = contacts.request_connection(session, thomas, lien.id)
        assert (again.id, again.status, again.requester_id) == (first.id, "pending", thomas.id)


def test_only_contacts_recommend_experiences(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, other_client, lien, lien_profile, _ = people(session)
        experience = service.add_experience(session, lien_profile, title="Data engineer", organisation="Polder NV",
                                            start_date=date(2021, 1, 1), end_date=date(2023, 6, 30),
                                            description="")
        with pytest.raises(NotAContact):
            contacts.recommend_experience(session, client, experience.id, "Great work")
        request = contacts.request_connection(session, client, lien.id)
        contacts.answer_request(session, lien, request.id, accept=True)
        with pytest.raises(InvalidInput):
            contacts.recommend_experience(session, client, experience.id, "   ")
        contacts.recommend_experience(session, client, experience.id, "Great work")
        contacts.recommend_experience(session, client, experience.id, "Great work, on time")
        with pytest.raises(NotAContact):
            contacts.recommend_experience(session, lien, experience.id, "I am great")
        with pytest.raises(NotAContact):
            contacts.recommend_experience(session, other_client, experience.id, "Never met")

        [view] = service.experiences_with_recommendations(session, lien_profile.id)
        assert [(item.author_name, item.text) for item in view.recommendations] == [
            ("Brabo Logistics NV buyer", "Great work, on time")]
