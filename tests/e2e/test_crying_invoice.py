"""The crying invoice end to end: the sticker is pulled out of its envelope, cries, reports;
the backend stores the opening once, e-mails the debtor in French and prepares the call."""

from __future__ import annotations

import re
import struct
import wave

from sqlmodel import select

from backend.collection.models import ReminderLetter
from backend.core.db import session_scope
from backend.devices.models import DeviceEvent
from backend.invoicing.service import timeline
from backend.notifications.models import Job, Message
from simulator.vboard import FIRMWARE_DIR
from tests.e2e.conftest import CRY_MAX_S
from tests.support.servers import wait_until

# Any space character may separate thousands: French uses a narrow no-break space.
FRENCH_AMOUNT = re.compile(r"3[\s\u202f\u00a0]921,61[\s\u202f\u00a0]€")


def _body_text(message) -> str:
    parts = [part.get_content() for part in message.walk() if part.get_content_type() in ("text/plain", "text/html")]
    return "\n".join(parts)


def _opened_events(product) -> list[DeviceEvent]:
    with session_scope(product.engine, write_lock=False) as session:
        query = select(DeviceEvent).where(DeviceEvent.device_id == product.device_id,
                                          DeviceEvent.event_type == "opened")
        return list(session.exec(query).all())


def _letter(product) -> ReminderLetter:
    with session_scope(product.engine, write_lock=False) as session:
        return session.get(ReminderLetter, product.letter_id)


def test_opened_letter_cries_reports_and_escalates(product):
    board = product.board
    board.close_envelope()
    board.start()
    board.wait_for_state("armed", 30)

    board.open_envelope()
    board.wait_for_state("crying", 5)
    wait_until(lambda: _letter(product).opened_at is not None, 30, message="the letter marked opened")
    messages = product.smtp.wait_for(1, timeout=30)
    wait_until(lambda: _call_messages(product), 30, message="the call script")
    board.wait_for_transition("done", CRY_MAX_S + 5)

    # The captured audio is the crying loop, for the configured cry time.
    with wave.open(str(board.wav_path)) as stream:
        rate = stream.getframerate()
        frames = stream.readframes(stream.getnframes())
    seconds = len(frames) / 2 / rate
    assert CRY_MAX_S - 0.3 < seconds < CRY_MAX_S + 0.5
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    assert max(abs(sample) for sample in samples) > 10000
    # At volume 100 the speaker plays cry.pcm itself. Under heavy load the simulated I2S can
    # underrun and insert silence, so look for the loop within the first two periods rather
    # than at byte 0; the firmware tests check that the sound starts first.
    loop = (FIRMWARE_DIR / "cry.pcm").read_bytes()
    start = frames.find(loop[:4096])
    assert 0 <= start < 2 * len(loop), "the captured audio does not contain the crying loop"
    assert frames[start:start + 8192] == loop[:8192]

    # Exactly one opening stored, and the letter opened at that time.
    events = _opened_events(product)
    assert len(events) == 1
    letter = _letter(product)
    assert letter.opened_event_id == events[0].id
    assert letter.status == "opened"

    # The debtor's e-mail, in French, over real SMTP.
    assert len(messages) == 1
    email = messages[0]
    assert email["To"] == "compta@example.com"
    assert email["Content-Language"] == "fr"
    assert "2026-0117" in email["Subject"]
    body = _body_text(email)
    assert "2026-0117" in body
    assert FRENCH_AMOUNT.search(body), body
    assert "+++010/0002/60466+++" in body
    assert "4 novembre 2026" in body
    assert "BE56363123456788" in body.replace(" ", "")

    # The call job, with a French script that reads out the number and the due date.
    with session_scope(product.engine, write_lock=False) as session:
        jobs = session.exec(select(Job).where(Job.invoice_id == product.invoice_id)).all()
        kinds = sorted(job.kind for job in jobs)
        entries = [entry.kind for entry in timeline(session, product.invoice_id)]
    assert kinds == ["call.letter_opened", "email.letter_opened"]
    call = _call_messages(product)[0]
    assert call.language == "fr"
    assert "facture numéro 2026-0117" in call.body_text
    assert "4 novembre 2026" in call.body_text
    with session_scope(product.engine, write_lock=False) as session:
        opened = [entry for entry in timeline(session, product.invoice_id) if entry.kind == "letter_opened"]
    # The sticker's clock is not trusted: the timeline gives the window of the opening.
    assert len(opened) == 1
    assert opened[0].data["earliest_at"] <= opened[0].data["latest_at"]
    for kind in ("imported", "letter_issued", "sticker_linked", "sticker_armed", "letter_opened",
                 "call_queued", "email_sent"):
        assert kind in entries


def _call_messages(product) -> list[Message]:
    with session_scope(product.engine, write_lock=False) as session:
        return list(session.exec(select(Message).where(Message.channel == "call")).all())
