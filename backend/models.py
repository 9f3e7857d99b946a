"""Imports every domain's tables so that SQLModel.metadata and Alembic see them all."""

from backend.accounts.models import User  # noqa: F401
from backend.notifications.models import Job, Message  # noqa: F401
from backend.invoicing.models import Invoice, InvoiceLine, InvoiceParty, InvoiceTaxSubtotal, TimelineEntry  # noqa: F401
from backend.devices.models import Device, DeviceEvent, RejectedMessage  # noqa: F401
from backend.collection.models import ReminderLetter  # noqa: F401
