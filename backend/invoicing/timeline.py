"""The invoice timeline as a reader sees it: a translated label and details per entry.

Any domain may record a kind that is not listed here. Such an entry still shows, under
its kind's name and with its data as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.invoicing.models import TimelineEntry
from backend.web import i18n


def _(message: str) -> str:
    """Mark a msgid for translation; it is translated where it is shown."""
    return message


KIND_LABELS = {
    "imported": _("Invoice imported"),
    "issued": _("Invoice issued"),
    "credited": _("Corrected by a credit note"),
    "send_requested": _("E-mail to the customer queued"),
    "invoice_sent": _("Sent to the customer by e-mail"),
    "peppol_sent": _("Sent on the Peppol network"),
    "debtor_language_changed": _("Debtor's language changed"),
    "letter_issued": _("Reminder letter issued"),
    "sticker_linked": _("Sticker linked to the letter"),
    "sticker_armed": _("Sticker armed in the envelope"),
    "letter_opened": _("Letter opened by the debtor"),
    "email_sent": _("E-mail sent to the debtor"),
    "email_failed": _("E-mail to the debtor failed"),
    "call_queued": _("Phone call planned"),
    "call_rendered": _("Phone call script ready"),
    "call_script_ready": _("Phone call script ready"),
    "payment_received": _("Payment received"),
    "call_scheduled": _("Phone call scheduled"),
    "call_placed": _("Phone call placed"),
    "call_outcome": _("Phone call ended"),
    "call_cancelled": _("Phone call cancelled"),
    "call_skipped": _("Phone call skipped"),
    "call_given_up": _("Phone calls given up"),
    "collection_step_sent": _("Collection step carried out"),
    "collection_step_skipped": _("Collection step skipped"),
    "collection_step_postponed": _("Collection step postponed"),
    "collection_paused": _("Collection paused"),
    "hold_lifted": _("Collection resumed"),
    "dispute_opened": _("Invoice disputed"),
    "debtor_management_on": _("Debtor management switched on"),
    "debtor_management_off": _("Debtor management switched off"),
    "email_skipped": _("E-mail to the debtor not sent"),
    "handoff_exported": _("File handed over to a collection partner"),
    "payment_recorded": _("Payment recorded"),
}

DETAIL_LABELS = {
    "filename": _("File"),
    "language": _("Language"),
    "previous_language": _("Previous language"),
    "language_source": _("Language chosen from"),
    "letter_id": _("Letter"),
    "device_id": _("Sticker"),
    "event_id": _("Sticker event"),
    "to": _("To"),
    "transport": _("Sent through"),
    "provider": _("Provider"),
    "error": _("Error"),
    "reason": _("Reason"),
    "scheduled_for": _("Planned for"),
    "amount": _("Amount"),
    "audio": _("Spoken version"),
    "number": _("Number"),
    "credit_note": _("Credit note"),
    "attachments": _("Attachments"),
    "message_id": _("Message"),
    # The sticker's clock is not trusted: an opening is known to lie between these two times.
    "earliest_at": _("Not before"),
    "latest_at": _("Not after"),
    "slot": _("Planned for"),
    "attempt": _("Attempt"),
    "attempts": _("Attempts"),
    "outcome": _("Outcome"),
    "count": _("Count"),
    "step": _("Step"),
}

LANGUAGE_SOURCE_LABELS = {
    "postal_code": _("the customer's postal code"),
    "freelancer": _("your choice"),
    "default": _("the default for debtors outside Belgium"),
}

_LANGUAGE_KEYS = {"language", "previous_language"}


@dataclass(frozen=True)
class TimelineItem:
    kind: str
    label: str
    at: datetime
    details: list[tuple[str, str]]


def describe_timeline(entries: list[TimelineEntry], language: str) -> list[TimelineItem]:
    """Turn timeline entries into labelled items in ``language``, the newest first."""
    gettext = i18n.gettext_for(language)
    items = [
        TimelineItem(
            kind=entry.kind,
            label=gettext(KIND_LABELS[entry.kind]) if entry.kind in KIND_LABELS else _humanize(entry.kind),
            at=entry.at,
            details=[_describe_detail(key, value, language) for key, value in (entry.data or {}).items()],
        )
        for entry in entries
    ]
    return sorted(items, key=lambda item: item.at, reverse=True)


def _describe_detail(key: str, value: object, language: str) -> tuple[str, str]:
    gettext = i18n.gettext_for(language)
    label = gettext(DETAIL_LABELS[key]) if key in DETAIL_LABELS else _humanize(key)
    return label, _format_value(key, value, language)


def _format_value(key: str, value: object, language: str) -> str:
    gettext = i18n.gettext_for(language)
    if key in _LANGUAGE_KEYS and isinstance(value, str) and value in i18n.LANGUAGES:
        return i18n.language_display_name(value, language)
    if key == "language_source" and value in LANGUAGE_SOURCE_LABELS:
        return gettext(LANGUAGE_SOURCE_LABELS[value])
    if key == "letter_id":
        return f"#{value}"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str) and (key.endswith(("_at", "_for")) or key == "slot"):
        try:
            return i18n.format_moment(datetime.fromisoformat(value), language)
        except ValueError:
            return value
    if value is None:
        return "—"
    return str(value)


def _humanize(name: str) -> str:
    return name.replace("_", " ").capitalize()
