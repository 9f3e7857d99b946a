"""A freelancer in the browser: log in, import the sample invoice, issue the letter, link the
demo sticker, open its envelope on the demo page, and see the timeline reach "opened"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.core.settings import Settings
from backend.runtime import Product, prepare
from backend.web.app import create_app
from tests.conftest import SAMPLE_INVOICE, free_port, make_settings
from tests.e2e.conftest import install_settings
from tests.support.servers import chromium_browser, live_server

pytestmark = pytest.mark.browser

OPENED_LABEL = {"fr": "Lettre ouverte par le débiteur", "nl": "Brief geopend door de debiteur"}
IMPORT_BUTTON = {"fr": "Importer", "nl": "Importeren"}


@pytest.fixture
def running(data_dir: Path, sqlite_url: str, monkeypatch) -> Iterator[tuple[Settings, str]]:
    port = free_port()
    settings = make_settings(
        data_dir, sqlite_url, mqtt_port=free_port(), worker_in_process=True, virtual_sticker=True,
        port=port, base_url=f"http://127.0.0.1:{port}", worker_poll_interval_s=0.2,
    )
    settings.mqtt_device_port = settings.mqtt_port
    install_settings(monkeypatch, settings)
    demo = prepare(settings)
    product = Product(settings)
    product.start(demo_device_id=demo["device_id"])
    try:
        with live_server(create_app(settings), port) as server:
            yield settings, server.url
    finally:
        product.stop()


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_timeline_reaches_opened(running, language: str, tmp_path: Path):
    settings, url = running
    with chromium_browser() as browser:
        context = browser.new_context(locale=f"{language}-BE", viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)

        page.goto(f"{url}/login")
        assert page.locator("html").get_attribute("lang") == language
        page.fill("input[name=email]", settings.demo_email)
        page.fill("input[name=password]", settings.demo_password)
        page.click("form.stacked button[type=submit]")
        page.wait_for_url(f"{url}/invoices")

        page.set_input_files("input[type=file][name=file]", str(SAMPLE_INVOICE))
        page.click(f"button:has-text('{IMPORT_BUTTON[language]}')")
        page.wait_for_url(f"{url}/invoices/*")
        invoice_url = page.url.split("#")[0]
        assert "2026-0117" in page.content()

        page.click("form[action$='/letters'] button[type=submit]")
        page.wait_for_selector("form[action='/stickers/link']")
        page.click("form[action='/stickers/link'] button[type=submit]")
        page.wait_for_selector("tr[data-letter-id] code")

        page.goto(f"{url}/demo")
        page.click("#close-envelope")
        page.wait_for_selector("#sticker-state[data-state=armed]", timeout=30_000)
        page.click("#open-envelope")
        page.wait_for_selector("#sticker-state[data-state=crying]", timeout=15_000)

        page.goto(invoice_url)
        for _ in range(30):
            if page.locator("li[data-kind=letter_opened]").count():
                break
            page.wait_for_timeout(500)
            page.reload()
        opened = page.locator("li[data-kind=letter_opened]")
        assert opened.count() == 1
        assert OPENED_LABEL[language] in opened.inner_text()
        page.screenshot(path=str(tmp_path / f"timeline-{language}.png"), full_page=True)
        context.close()
