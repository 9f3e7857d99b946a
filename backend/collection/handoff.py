"""The hand-off to a collection partner: one zip with the whole file and its evidence."""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

from sqlmodel import Session

from backend.core.settings import get_settings
from backend.invoicing import service as invoicing
from backend.notifications.service import messages_for_invoice


def build_export(session: Session, invoice_id: int) -> bytes:
    """Return the zip: the invoice data, each letter as PDF, the timeline, the messages and the
    sticker events, which the timeline carries as "letter_opened" and sticker entries."""
    import io

    from backend.collection.letters import render_letter_pdf
    from backend.collection.service import letters_for_invoice

    invoice = invoicing.get_invoice(session, invoice_id)
    detail = invoicing.get_invoice_detail(session, invoice.owner_id, invoice_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("invoice.json", _dump({
            "invoice": invoice.model_dump(), "supplier": detail.supplier.model_dump(),
            "customer": detail.customer.model_dump(), "lines": [line.model_dump() for line in detail.lines],
        }))
        archive.writestr("timeline.json", _dump([entry.model_dump() for entry in detail.timeline]))
        sticker_events = [entry.model_dump() for entry in detail.timeline
                          if entry.kind.startswith(("sticker_", "letter_opened"))]
        archive.writestr("sticker_events.json", _dump(sticker_events))
        messages = messages_for_invoice(session, invoice_id)
        archive.writestr("messages.json", _dump([message.model_dump() for message in messages]))
        for message in messages:
            if message.file_path and Path(message.file_path).is_file():
                archive.write(message.file_path, f"messages/{message.id}-{Path(message.file_path).name}")
        for letter in letters_for_invoice(session, invoice_id):
            archive.writestr(f"letters/{letter.kind}-{letter.id}.pdf", render_letter_pdf(session, letter))
    return buffer.getvalue()


def write_export(session: Session, invoice_id: int, day: date) -> Path:
    directory = get_settings().data_dir / "handoffs"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"invoice-{invoice_id}-{day.isoformat()}.zip"
    path.write_bytes(build_export(session, invoice_id))
    return path


def _dump(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
