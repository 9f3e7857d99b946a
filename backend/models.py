"""Imports every domain's tables so that SQLModel.metadata and Alembic see them all."""

from backend.accounts.models import User  # noqa: F401
from backend.notifications.models import Job, Message  # noqa: F401
from backend.notifications.call_models import CallAttempt  # noqa: F401
from backend.invoicing.models import Invoice, InvoiceLine, InvoiceParty, InvoiceTaxSubtotal, TimelineEntry  # noqa: F401
from backend.invoicing.models import BusinessProfile, Customer, NumberSequence, PlatformFeeInvoice  # noqa: F401
from backend.devices.models import Device, DeviceEvent, RejectedMessage  # noqa: F401
from backend.devices.factory_models import FactoryRecord  # noqa: F401
from backend.collection.models import ReminderLetter  # noqa: F401
from backend.collection.models import DailyRun, InvoiceHold, LadderStep, LatePaymentRate, StepClaim  # noqa: F401
from backend.marketplace.models import (  # noqa: F401
    Application, CandidateCheck, Company, CompanyMember, Connection, ContactMessage, Experience,
    FreelancerProfile, Mission, MissionLanguage, MissionSkill, Notice, ProfileLanguage, ProfileReach,
    ProfileSkill, Recommendation,
)
from backend.contracts.models import Contract, ContractAcceptance  # noqa: F401
from backend.timesheets.models import InvoiceDraft, InvoiceDraftLine, Timesheet, TimesheetEntry  # noqa: F401
