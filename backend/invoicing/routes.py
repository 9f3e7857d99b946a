"""Invoice pages (list, detail, import, debtor language) and the JSON API under /api/invoices."""

from __future__ import annotations

from babel.units import format_unit
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.settings import get_settings
from backend.core.time import today_brussels
from backend.invoicing import document_routes, errors, party_routes, service, vat
from backend.invoicing.formatting import format_enterprise_number, format_iban, unit_label
from backend.invoicing.peppol_import import display_filename
from backend.invoicing.schemas import InvoiceOut, InvoiceSummaryOut
from backend.invoicing.timeline import LANGUAGE_SOURCE_LABELS, describe_timeline
from backend.web.deps import current_user, db_session
from backend.web.i18n import LOCALES, ngettext_for
from backend.web.security import flash, verify_csrf
from backend.web.templating import render

router = APIRouter()
# Included first, so that /invoices/new and /invoices/{id}.pdf match before /invoices/{invoice_id}.
router.include_router(document_routes.router)
router.include_router(party_routes.router)


def _(message: str) -> str:
    """Mark a msgid for translation; it is translated where it is shown."""
    return message


# Language names as they read inside a sentence, lower case in French and Dutch.
LANGUAGE_NAMES_IN_SENTENCE = {"fr": _("French"), "nl": _("Dutch"), "en": _("English")}


def read_upload(upload: UploadFile) -> bytes:
    """Read an uploaded file, stopping one byte past the upload limit.

    The import then rejects the file as too large without reading the rest of it.
    """
    limit = get_settings().max_upload_bytes
    filename = display_filename(upload.filename or "")
    if upload.size is not None and upload.size > limit:
        raise errors.FileTooLarge(filename=filename, size=upload.size, limit=limit)
    return upload.file.read(limit + 1)


@router.get("/invoices")
def invoice_list_page(request: Request, user: User = Depends(current_user),
                      session: Session = Depends(db_session, scope="function")):
    from backend.timesheets.service import invoice_drafts_for_user

    return render(
        request,
        "invoicing/list.html",
        summaries=service.list_invoices(session, user.id),
        timesheet_drafts=[view for view in invoice_drafts_for_user(session, user)
                          if view.draft.status == "draft" and view.lines],
        today=today_brussels(),
        max_upload_size=format_unit(get_settings().max_upload_bytes // 1000, "digital-kilobyte", length="short",
                                    locale=LOCALES[request.state.language]),
    )


@router.post("/invoices/import", dependencies=[Depends(verify_csrf)])
def import_invoice_form(request: Request, file: UploadFile = File(...), user: User = Depends(current_user),
                        session: Session = Depends(db_session, scope="function")):
    invoice = service.import_invoice(session, user.id, read_upload(file), file.filename or "")
    gettext = request.state.gettext
    message = gettext("Credit note {number} imported.") if invoice.is_credit_note else gettext("Invoice {number} imported.")
    flash(request, message.format(number=invoice.number), "success")
    return RedirectResponse(f"/invoices/{invoice.id}", status_code=303)


@router.get("/invoices/{invoice_id}")
def invoice_page(request: Request, invoice_id: int, user: User = Depends(current_user),
                 session: Session = Depends(db_session, scope="function")):
    from backend.collection.service import letters_for_invoice

    detail = service.get_invoice_detail(session, user.id, invoice_id)
    helpers = {
        "unit_label": lambda code, quantity=None: unit_label(code, request.state.gettext, quantity,
                                                             ngettext_for(request.state.language)),
        "format_iban": format_iban,
        "format_enterprise_number": format_enterprise_number,
        "mention": vat.mention(detail.invoice.vat_scheme, detail.invoice.debtor_language),
        "scheme_labels": vat.SCHEME_LABELS,
    }
    if detail.invoice.is_draft:
        return render(request, "invoicing/draft.html", detail=detail, invoice=detail.invoice, **helpers)
    return render(
        request,
        "invoicing/detail.html",
        detail=detail,
        related=service.related_documents(session, detail.invoice),
        invoice=detail.invoice,
        letters=letters_for_invoice(session, invoice_id),
        timeline=describe_timeline(detail.timeline, request.state.language),
        contact=service.debtor_contact(session, invoice_id),
        today=today_brussels(),
        language_source_labels=LANGUAGE_SOURCE_LABELS,
        language_names_in_sentence=LANGUAGE_NAMES_IN_SENTENCE,
        **helpers,
    )


@router.post("/invoices/{invoice_id}/language", dependencies=[Depends(verify_csrf)])
def change_debtor_language(request: Request, invoice_id: int, language: str = Form(...),
                           user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    invoice = service.set_debtor_language(session, user.id, invoice_id, language)
    message = request.state.gettext("The debtor will now be written to and called in {language}.").format(
        language=request.state.gettext(LANGUAGE_NAMES_IN_SENTENCE[invoice.debtor_language])
    )
    flash(request, message, "success")
    return RedirectResponse(f"/invoices/{invoice_id}", status_code=303)


@router.get("/api/invoices", response_model=list[InvoiceSummaryOut])
def list_invoices_api(user: User = Depends(current_user),
                      session: Session = Depends(db_session, scope="function")) -> list[InvoiceSummaryOut]:
    return [InvoiceSummaryOut.from_summary(summary) for summary in service.list_invoices(session, user.id)]


@router.get("/api/invoices/{invoice_id}", response_model=InvoiceOut)
def get_invoice_api(invoice_id: int, user: User = Depends(current_user),
                    session: Session = Depends(db_session, scope="function")) -> InvoiceOut:
    return InvoiceOut.from_detail(service.get_invoice_detail(session, user.id, invoice_id))


@router.post("/api/invoices/import", response_model=InvoiceOut, status_code=201,
             dependencies=[Depends(verify_csrf)])
def import_invoice_api(file: UploadFile = File(...), user: User = Depends(current_user),
                       session: Session = Depends(db_session, scope="function")) -> InvoiceOut:
    invoice = service.import_invoice(session, user.id, read_upload(file), file.filename or "")
    return InvoiceOut.from_detail(service.get_invoice_detail(session, user.id, invoice.id))
