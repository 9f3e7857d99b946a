"""Pages of the freelancer's business details and customers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from backend.accounts.models import User
from backend.invoicing import parties
from backend.invoicing.formatting import format_enterprise_number
from backend.web.deps import current_user, db_session
from backend.web.security import flash, verify_csrf
from backend.web.templating import render

router = APIRouter()

PROFILE_FIELDS = ("name", "registration_name", "street", "postal_code", "city", "country", "enterprise_number",
                  "vat_number", "vat_regime", "iban", "bic", "email", "phone", "number_prefix",
                  "payment_terms_days")
CUSTOMER_FIELDS = ("kind", "name", "registration_name", "street", "postal_code", "city", "country",
                   "enterprise_number", "vat_number", "language", "email", "phone", "contact_name")


def _form_values(form, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in names}


@router.get("/invoicing/profile")
def profile_page(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    profile = parties.get_profile(session, user.id)
    values = parties.profile_input(profile) or parties.ProfileInput(
        name=user.name, street="", postal_code="", city="", enterprise_number="", iban="", email=user.email)
    return render(request, "invoicing/profile.html", values=values, saved=profile is not None)


@router.post("/invoicing/profile", dependencies=[Depends(verify_csrf)])
async def save_profile(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    form = await request.form()
    values = _form_values(form, PROFILE_FIELDS)
    data = parties.ProfileInput(**values, debtor_management=form.get("debtor_management") == "on")
    parties.save_profile(session, user.id, data)
    flash(request, request.state.gettext("Your business details are saved."), "success")
    return RedirectResponse(str(form.get("next") or "/invoicing/profile"), status_code=303)


@router.get("/customers")
def customers_page(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    return render(request, "invoicing/customers.html", customers=parties.list_customers(session, user.id),
                  peppol_identifier=parties.peppol_identifier, format_enterprise_number=format_enterprise_number)


@router.get("/customers/new")
def new_customer_page(request: Request, user: User = Depends(current_user)):
    values = parties.CustomerInput(name="", street="", postal_code="", city="", language=request.state.language)
    return render(request, "invoicing/customer_form.html", values=values, customer=None)


@router.post("/customers", dependencies=[Depends(verify_csrf)])
async def create_customer(request: Request, user: User = Depends(current_user),
                          session: Session = Depends(db_session, scope="function")):
    form = await request.form()
    customer = parties.save_customer(session, user.id, parties.CustomerInput(**_form_values(form, CUSTOMER_FIELDS)))
    flash(request, request.state.gettext("Customer {name} is saved.").format(name=customer.name), "success")
    if form.get("then") == "invoice":
        return RedirectResponse(f"/invoices/new?customer_id={customer.id}", status_code=303)
    return RedirectResponse("/customers", status_code=303)


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: int, user: User = Depends(current_user),
                  session: Session = Depends(db_session, scope="function")):
    customer = parties.get_customer(session, user.id, customer_id)
    values = parties.CustomerInput(**{name: getattr(customer, name) or "" for name in CUSTOMER_FIELDS})
    return render(request, "invoicing/customer_form.html", values=values, customer=customer,
                  peppol_id=parties.peppol_identifier(customer))


@router.post("/customers/{customer_id}", dependencies=[Depends(verify_csrf)])
async def update_customer(request: Request, customer_id: int, user: User = Depends(current_user),
                          session: Session = Depends(db_session, scope="function")):
    form = await request.form()
    customer = parties.save_customer(session, user.id, parties.CustomerInput(**_form_values(form, CUSTOMER_FIELDS)),
                                     customer_id)
    flash(request, request.state.gettext("Customer {name} is saved.").format(name=customer.name), "success")
    return RedirectResponse("/customers", status_code=303)

