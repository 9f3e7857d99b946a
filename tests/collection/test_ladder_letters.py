"""Letters from the ladder: reminder and formal notice PDFs in the debtor's language, the day's batch."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from backend.collection import daily_run, interest
from backend.collection.ladder import StepSetting, save_ladder
from backend.collection.letters import render_batch_pdf, render_letter_pdf
from backend.collection.models import ReminderLetter
from backend.core.db import session_scope
from tests.collection.factories import make_invoice

DUE = date(2026, 6, 1)


def _pdf_text(pdf: bytes, tmp_path: Path, name: str) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed: apt-get install poppler-utils")
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True)
    return result.stdout


def _letters_for(engine, owner_id, language, consumer=False):
    invoice_id = make_invoice(engine, owner_id, due=DUE, language=language, consumer=consumer,
                              number=f"2026-{language}{'c' if consumer else 'b'}")
    with session_scope(engine) as session:
        interest.seed_published_rates(session)
    for offset in (3, 14, 30):
        day = DUE + timedelta(days=offset)
        daily_run.run_day(engine, day, now=datetime(day.year, day.month, day.day, 8, tzinfo=UTC))
    with session_scope(engine, write_lock=False) as session:
        letters = session.exec(select(ReminderLetter).where(ReminderLetter.invoice_id == invoice_id)
                               .order_by(ReminderLetter.id)).all()
        return [(letter, render_letter_pdf(session, letter)) for letter in letters]


EXPECTED = {
    "fr": ("Rappel de paiement", "Mise en demeure", "intérêts de retard", "Indemnité forfaitaire"),
    "nl": ("Betalingsherinnering", "Ingebrekestelling", "Nalatigheidsinterest", "Forfaitaire vergoeding"),
    "en": ("Payment reminder", "Formal notice", "Late-payment interest", "Flat compensation"),
}


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_business_letters_show_interest(sqlite_url, owner_id_sqlite, tmp_path, language):
    engine, owner_id = owner_id_sqlite
    (reminder, reminder_pdf), (notice, notice_pdf) = _letters_for(engine, owner_id, language)
    reminder_text = _pdf_text(reminder_pdf, tmp_path, f"reminder-{language}")
    notice_text = _pdf_text(notice_pdf, tmp_path, f"notice-{language}")

    title, notice_title, interest_label, compensation_label = EXPECTED[language]
    assert reminder.with_sticker and not notice.with_sticker
    assert title in reminder_text
    assert notice_title in notice_text
    assert interest_label.lower() in reminder_text.lower()
    assert compensation_label in notice_text
    # 1,000.00 € from 2 June 2026 to 15 June 2026 (14 days) at 10.50 %: 4.03 €.
    assert "4,03" in reminder_text or "4.03" in reminder_text
    assert "14/365" in reminder_text


def test_consumer_letter_has_book_xix_mentions(sqlite_url, owner_id_sqlite, tmp_path):
    engine, owner_id = owner_id_sqlite
    with session_scope(engine) as session:
        # The letter is the consumer's first reminder here, so it is the free one.
        save_ladder(session, owner_id, [StepSetting("letter", 3), StepSetting("formal_notice", 30)])
    letters = _letters_for(engine, owner_id, "fr", consumer=True)
    text = _pdf_text(letters[0][1], tmp_path, "consumer")

    assert not letters[0][0].with_sticker
    assert "gratuit" in text
    # Posted on Thursday 4 June 2026: the period runs from Monday 8 to Sunday 21 June.
    assert "21 juin 2026" in text
    assert "0123.456.749" in text
    assert "Logo design" in text
    assert "90,00" in text  # damages cap for 1,000.00 €: 65 + 5 % of 500


def test_print_batch_is_one_pdf(sqlite_url, owner_id_sqlite, tmp_path):
    engine, owner_id = owner_id_sqlite
    first = _letters_for(engine, owner_id, "fr")
    second = _letters_for(engine, owner_id, "nl")
    with session_scope(engine, write_lock=False) as session:
        letters = [first[0][0], second[0][0]]
        pdf = render_batch_pdf(session, letters)
    text = _pdf_text(pdf, tmp_path, "batch")
    assert "Rappel de paiement" in text
    assert "Betalingsherinnering" in text
    assert text.count("\f") >= 2
