"""The collection dashboard and an invoice's timeline in a real browser, in French and Dutch, on a phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.accounts.service import sign_up
from backend.collection import daily_run
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.time import today_brussels
from backend.web.app import create_app
from tests.collection.factories import make_invoice
from tests.conftest import free_port
from tests.support.servers import chromium_browser, live_server

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
TEXTS = {
    "fr": {"title": "Recouvrement", "bucket": "31 à 60 jours", "step": "E-mail amical", "sent": "Étape de relance effectuée",
           "paid": "Marquer comme payée"},
    "nl": {"title": "Invordering", "bucket": "31 tot 60 dagen", "step": "Vriendelijke e-mail", "sent": "Aanmaningsstap uitgevoerd",
           "paid": "Als betaald markeren"},
}


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_dashboard_and_timeline(settings, monkeypatch, language):
    port = free_port()
    monkeypatch.setenv("IKKI_BASE_URL", f"http://127.0.0.1:{port}")
    engine = core_db.get_engine(settings.database_url)
    with session_scope(engine) as session:
        owner_id = sign_up(session, email="lien@example.be", name="Lien Verbeke", password=PASSWORD).id
    today = today_brussels()
    invoice_id = make_invoice(engine, owner_id, number="2026-0042", due=today - timedelta(days=40))
    daily_run.run_day(engine, today, now=datetime.now(UTC))
    texts = TEXTS[language]

    with live_server(create_app(settings), port) as server, chromium_browser() as browser:
        # A phone-sized screen: 390 x 844 CSS pixels.
        context = browser.new_context(locale=f"{language}-BE", viewport={"width": 390, "height": 844}, is_mobile=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", "lien@example.be")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.stacked button[type=submit]")
        page.wait_for_load_state()

        page.goto(f"{server.url}/collection")
        assert page.locator("h1").first.inner_text() == texts["title"]
        assert page.locator("svg[role=img] rect.bar").count() == 4
        assert texts["bucket"] in page.locator("svg[role=img]").text_content()
        assert texts["step"] in page.inner_text("body")
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 390 + 1, f"the dashboard is {page_width} px wide on a 390 px screen"

        page.click("a:has-text('2026-0042')")
        page.wait_for_url(f"{server.url}/collection/invoices/{invoice_id}")
        timeline = page.locator("ol.timeline").inner_text()
        assert texts["sent"] in timeline
        assert texts["step"] in timeline
        assert page.locator(f"button:has-text('{texts['paid']}')").is_visible()
        context.close()
