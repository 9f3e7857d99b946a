"""The whole path in a real browser: a client posts a mission and hires from its matches,
both parties accept the contract, the freelancer's approved week becomes an invoice draft."""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.time import today_brussels
from backend.web.app import create_app
from tests.conftest import free_port
from tests.marketplace.factories import PASSWORD, make_freelancer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_server(settings):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def screenshots(tmp_path):
    """Folder for the phone-sized screenshots; IKKI_SCREENSHOT_DIR keeps them after the test."""
    folder = Path(os.environ.get("IKKI_SCREENSHOT_DIR", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def next_monday(after: date) -> date:
    return after + timedelta(days=7 - after.weekday())


def log_in(browser, base_url: str, email: str, language: str):
    context = browser.new_context(viewport=PHONE, locale={"fr": "fr-BE", "nl": "nl-BE", "en": "en-GB"}[language],
                                  extra_http_headers={"Accept-Language": language})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    return page


def submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.click(f"{form_selector} button[type=submit]")
    assert not page.locator(".flash-error").count(), page.locator(".flash-error").first.inner_text()


def test_client_hires_and_freelancer_invoices(browser, live_server, settings, screenshots):
    engine = core_db.get_engine(settings.database_url)
    start = next_monday(today_brussels() + timedelta(days=7))
    with session_scope(engine) as session:
        make_freelancer(session, "lien@example.be", "Lien Peeters", rate="85.00", skills={"Python": 5, "SQL": 4},
                        available_from=start - timedelta(days=20), language="nl")
        make_freelancer(session, "thomas@example.be", "Thomas Dubois", rate="92.00", region="BE-BRU",
                        skills={"Python": 4}, languages=("fr", "en"), available_from=start, language="fr")
        make_freelancer(session, "wout@example.be", "Wout Maes", rate="70.00", skills={"Python": 2},
                        available_from=start + timedelta(days=60), language="nl")

    # The client signs up with its company and posts a mission.
    context = browser.new_context(viewport=PHONE, extra_http_headers={"Accept-Language": "en"})
    context.set_default_timeout(10_000)
    client = context.new_page()
    client.goto(f"{live_server}/signup")
    client.check("input[name=role][value=client]")
    client.fill("input[name=name]", "Ann Claes")
    client.fill("input[name=email]", "ann@schelde-data.example")
    client.fill("input[name=password]", PASSWORD)
    client.fill("input[name=company_name]", "Schelde Data BV")
    client.fill("input[name=enterprise_number]", "0403.170.701")
    client.fill("input[name=street]", "Kerkstraat 12")
    client.fill("input[name=postal_code]", "2000")
    client.fill("input[name=city]", "Antwerpen")
    submit(client, "form[action='/signup']")
    assert client.url.endswith("/missions"), client.url

    client.click("a[href='/missions/new']")
    client.fill("input[name=title]", "Python developer for our data platform")
    client.fill("textarea[name=description]", "Build the ingestion of our sensor data.")
    client.select_option("select[name=work_mode]", "hybrid")
    client.select_option("select[name=region]", "BE-VAN")
    client.fill("input[name=start_date]", start.isoformat())
    client.fill("input[name=duration_weeks]", "8")
    client.fill("input[name=hours_per_week]", "40")
    client.fill("input[name=amount]", "90")
    client.check("input[name=languages][value=nl]")
    client.locator("input[name=skill_name]").nth(0).fill("Python")
    client.locator("select[name=skill_level]").nth(0).select_option("4")
    client.locator("input[name=skill_name]").nth(1).fill("SQL")
    client.locator("select[name=skill_level]").nth(1).select_option("3")
    client.locator("select[name=skill_kind]").nth(1).select_option("optional")
    submit(client, "form[action='/missions']")
    mission_url = client.url
    submit(client, "form:has(input[name=target][value=published])")

    # Ranked matches, each with its reasons.
    client.click("a[href$='/matches']")
    matches = client.locator("article.match")
    assert matches.count() == 3
    assert [matches.nth(index).locator(".name").inner_text() for index in range(3)] == [
        "Lien Peeters", "Thomas Dubois", "Wout Maes"]
    first_reasons = matches.nth(0).locator("ul.reasons li").all_inner_texts()
    assert any("Python: level 5, at least 4 asked" in text for text in first_reasons)
    assert any("Based in Antwerp, where the mission takes place" in text for text in first_reasons)
    client.screenshot(path=screenshots / "matches-en.png", full_page=True)
    for index in (0, 1):
        submit(client, f"article.match >> nth={index} >> form")
    assert client.locator("article.match .badge").count() == 2

    # The client switches to French for the rest of the path.
    with client.expect_navigation():
        client.click("form.language-switch button[value=fr]")
    assert "Python\xa0: niveau 5, minimum 4 demandé" in client.locator("article.match").first.inner_text()
    client.screenshot(path=screenshots / "matches-fr.png", full_page=True)

    # Lien, invited, applies in Dutch.
    lien = log_in(browser, live_server, "lien@example.be", "nl")
    lien.goto(f"{live_server}/notifications")
    # The new mission that fits her profile, then the invitation to it.
    assert lien.locator(".notices-link .count").inner_text() == "2"
    submit(lien, "li.notice >> nth=0 >> form")
    assert "/applications/" in lien.url
    lien.click("a[href$='#apply']")
    lien.fill("textarea[name=message]", "Ik heb drie jaar aan een gelijkaardig dataplatform gewerkt.")
    lien.fill("input[name=rate]", "87,50")
    submit(lien, "form[action$='/applications']")
    application_url = lien.url

    # The client shortlists Lien, records a reference check and hires her.
    client.goto(application_url)
    submit(client, "form[action$='/shortlist']")
    client.fill("input[name=checked_with]", "Koen Jacobs, former team lead")
    client.select_option("select[name=outcome]", "positive")
    client.fill("textarea[name=notes]", "Delivered on time, good with junior colleagues.")
    submit(client, "form[action$='/checks']")
    assert "Koen Jacobs, former team lead" in client.locator("#checks").inner_text()
    client.screenshot(path=screenshots / "application-fr.png", full_page=True)
    submit(client, "form[action$='/hire']")
    contract_url = client.url
    assert re.search(r"/contracts/\d+$", contract_url)

    # Lien chooses debtor management, then both accept the contract.
    lien.goto(contract_url)
    lien.check("input[name=debtor_management]")
    lien.select_option("select[name=language]", "nl")
    submit(lien, "form[action$='/terms']")
    submit(lien, "form[action$='/accept']")
    lien.screenshot(path=screenshots / "contract-nl.png", full_page=True)
    client.goto(contract_url)
    submit(client, "form[action$='/accept']")
    assert client.locator(".badge-signed").count() == 1
    assert client.locator("form[action$='/terms']").count() == 0
    acceptances = client.locator("ul.acceptances li").all_inner_texts()
    assert "Ann Claes" in acceptances[0]
    assert "Lien Peeters" in acceptances[1]

    # Lien enters a week of hours and submits it; the client approves it.
    week_url = f"{contract_url.replace('/contracts/', '/timesheets/')}/{start.isoformat()}"
    lien.goto(week_url)
    inputs = lien.locator("input[name=hours]:not([type=hidden])")
    for index, hours in enumerate(["8", "8", "7,5", "8", "6.5"]):
        inputs.nth(index).fill(hours)
    with lien.expect_navigation():
        lien.click("button[name=action][value=submit]")
    assert lien.locator(".badge-submitted").count() == 1, lien.locator("main").inner_text()
    lien.screenshot(path=screenshots / "week-nl.png", full_page=True)

    client.goto(f"{live_server}/timesheets")
    client.click(f"a[href='{week_url.removeprefix(live_server)}']")
    with client.expect_navigation():
        client.click("button[formaction$='/approve']")
    assert not client.locator(".flash-error").count()

    # The approved hours are an invoice draft at the contract's rate: 38 h × 87,50 € = 3.325,00 €.
    lien.goto(f"{live_server}/invoice-drafts")
    lien.click("ul.list a.title")
    total = lien.locator(".draft-total").inner_text()
    assert total == "€\xa03.325,00"
    assert Decimal(38) * Decimal("87.50") == Decimal("3325.00")
    lien.screenshot(path=screenshots / "draft-nl.png", full_page=True)

    # Thomas, invited but not chosen, reads his notifications in French.
    thomas = log_in(browser, live_server, "thomas@example.be", "fr")
    thomas.goto(f"{live_server}/notifications")
    texts = thomas.locator("li.notice").all_inner_texts()
    assert any("a choisi un autre freelance pour la mission" in text for text in texts)
    thomas.screenshot(path=screenshots / "notifications-fr.png", full_page=True)
    thomas.goto(mission_url)
    assert thomas.locator(".badge-rejected").count() == 1
    thomas.screenshot(path=screenshots / "mission-freelancer-fr.png", full_page=True)
    client.goto(mission_url)
    client.screenshot(path=screenshots / "mission-client-fr.png", full_page=True)
