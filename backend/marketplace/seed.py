"""Seed data: realistic Belgian freelancers, client companies and missions, in French, Dutch
and English, generated from a seed so that the same seed gives the same data.

No person is real: names are drawn from lists of common Belgian first names and surnames,
and company names are composed from place names and trades. Every seeded account has the
password ``SEED_PASSWORD``.

Run it with ``uv run python -m backend.marketplace.seed --profiles 300 --missions 100``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import click
import sqlalchemy as sa
import structlog
from sqlmodel import Session

from backend.accounts import service as accounts
from backend.accounts.models import User
from backend.core.time import today_brussels, utcnow
from backend.marketplace import regions
from backend.marketplace.models import (
    Company,
    CompanyMember,
    Experience,
    FreelancerProfile,
    Mission,
    MissionLanguage,
    MissionSkill,
    ProfileLanguage,
    ProfileReach,
    ProfileSkill,
)
from backend.marketplace.service import skill_key, slugify

log = structlog.get_logger(__name__)

SEED_PASSWORD = "seed-ikki-2026"
SEED_EMAIL_DOMAIN = "seed.ikki.example"

FIRST_NAMES = {
    "nl": ["Lucas", "Liam", "Noah", "Louis", "Arthur", "Jules", "Wout", "Lars", "Tom", "Pieter", "Jan", "Bart",
           "Koen", "Wim", "Stijn", "Jens", "Ruben", "Thijs", "Emma", "Olivia", "Louise", "Marie", "Lotte", "Noor",
           "Fien", "Lien", "Sofie", "Els", "An", "Katrien", "Hanne", "Eline", "Leen", "Annelies", "Griet", "Ine"],
    "fr": ["Thomas", "Nicolas", "Julien", "Maxime", "Antoine", "Hugo", "Théo", "Romain", "Olivier", "Benoît",
           "Cédric", "Mohamed", "Yassine", "Karim", "Mathieu", "Sébastien", "Camille", "Manon", "Chloé", "Julie",
           "Sarah", "Laura", "Pauline", "Céline", "Aurélie", "Amina", "Fatima", "Inès", "Nadia", "Sophie",
           "Élise", "Charlotte", "Margaux", "Delphine", "Valérie", "Anne-Sophie"],
}
SURNAMES = {
    "nl": ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
           "De Smet", "Vermeulen", "Van den Broeck", "Hermans", "Lambrechts", "De Vos", "Aerts", "Smets", "Pauwels",
           "Van Damme", "Verstraete", "Michiels", "Hendrickx", "Coppens", "Declercq", "Vandenberghe", "Segers"],
    "fr": ["Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leclercq", "Lejeune", "Renard",
           "Lemaire", "François", "Denis", "Collard", "Fontaine", "Mathieu", "Gérard", "Henry", "Lefèbvre", "Noël",
           "Marchal", "Wauters", "Delhaye", "Closset", "Hubert", "El Amrani", "Benali"],
}

# Relative population of each region, so freelancers and companies spread as people do.
REGION_WEIGHTS = {
    "BE-VAN": 19, "BE-VOV": 16, "BE-VBR": 12, "BE-VWV": 12, "BE-VLI": 9, "BE-BRU": 12,
    "BE-WHT": 13, "BE-WLG": 11, "BE-WBR": 4, "BE-WNA": 5, "BE-WLX": 3,
}
FLEMISH = {"BE-VAN", "BE-VOV", "BE-VBR", "BE-VWV", "BE-VLI"}
# A few cities of each region with their postal codes; Brussels municipalities in both languages.
CITIES = {
    "BE-BRU": [("1000", {"fr": "Bruxelles", "nl": "Brussel"}), ("1050", {"fr": "Ixelles", "nl": "Elsene"}),
               ("1030", {"fr": "Schaerbeek", "nl": "Schaarbeek"})],
    "BE-VAN": [("2000", "Antwerpen"), ("2800", "Mechelen"), ("2300", "Turnhout")],
    "BE-VLI": [("3500", "Hasselt"), ("3600", "Genk")],
    "BE-VOV": [("9000", "Gent"), ("9300", "Aalst")],
    "BE-VWV": [("8000", "Brugge"), ("8500", "Kortrijk")],
    "BE-VBR": [("3000", "Leuven"), ("1800", "Vilvoorde")],
    "BE-WBR": [("1300", "Wavre"), ("1348", "Louvain-la-Neuve")],
    "BE-WHT": [("7000", "Mons"), ("6000", "Charleroi"), ("7500", "Tournai")],
    "BE-WLG": [("4000", "Liège"), ("4800", "Verviers")],
    "BE-WLX": [("6700", "Arlon"), ("6900", "Marche-en-Famenne")],
    "BE-WNA": [("5000", "Namur"), ("5500", "Dinant")],
}
STREETS = {
    "fr": ["Rue de la Station", "Rue du Commerce", "Avenue des Tilleuls", "Rue de l'Industrie", "Chaussée de Namur",
           "Rue des Champs"],
    "nl": ["Stationsstraat", "Kerkstraat", "Molenstraat", "Nieuwstraat", "Industrielaan", "Kouter"],
}
PLACE_NAMES = ["Schelde", "Kempen", "Polder", "Leie", "Dijle", "Demer", "Meuse", "Sambre", "Ardenne", "Condroz",
               "Hesbaye", "Zenne", "Brabo", "Westhoek", "Famenne", "Gaume", "Haspengouw", "Pajottenland"]
LEGAL_FORMS = {"nl": ["BV", "NV", "CommV"], "fr": ["SRL", "SA", "SComm"], "en": ["BV", "SRL", "NV"]}


@dataclass(frozen=True)
class Domain:
    """A trade: its skills, rates, and its words in each language."""

    key: str
    skills: tuple[str, ...]
    # Typical hourly rate range in euros, excluding VAT.
    rates: tuple[int, int]
    # Word for the trade in company names, and the specialty as written in a freelancer's headline.
    trade: dict[str, str]
    specialty: dict[str, str]
    roles: dict[str, tuple[str, ...]]
    projects: dict[str, tuple[str, ...]]


DOMAINS = (
    Domain("software", ("Python", "Java", "JavaScript", "TypeScript", "React", "Angular", "SQL", "PostgreSQL",
                        "Docker", "Kubernetes", "AWS", "Azure", "C#", ".NET", "PHP", "Go"), (65, 115),
           {"en": "Software", "fr": "Informatique", "nl": "Software"},
           {"en": "Software development", "fr": "Développement logiciel", "nl": "Softwareontwikkeling"},
           {"en": ("Backend developer", "Full-stack developer", "Front-end developer", "DevOps engineer"),
            "fr": ("Développeur backend (h/f/x)", "Développeur full-stack (h/f/x)", "Développeur front-end (h/f/x)",
                   "Ingénieur DevOps (h/f/x)"),
            "nl": ("Backend developer (m/v/x)", "Full-stack developer (m/v/x)", "Front-end developer (m/v/x)",
                   "DevOps engineer (m/v/x)")},
           {"en": ("our customer portal", "a payments platform", "the migration to the cloud", "a mobile app"),
            "fr": ("notre portail clients", "une plateforme de paiement", "la migration vers le cloud",
                   "une application mobile"),
            "nl": ("ons klantenportaal", "een betaalplatform", "de migratie naar de cloud", "een mobiele app")}),
    Domain("data", ("Python", "SQL", "Power BI", "Tableau", "dbt", "Apache Spark", "Machine learning",
                    "Statistics", "Excel"), (70, 120),
           {"en": "Data", "fr": "Data", "nl": "Data"},
           {"en": "Data analysis", "fr": "Analyse de données", "nl": "Data-analyse"},
           {"en": ("Data analyst", "Data engineer", "BI consultant"),
            "fr": ("Analyste de données (h/f/x)", "Data engineer (h/f/x)", "Consultant BI (h/f/x)"),
            "nl": ("Data-analist (m/v/x)", "Data engineer (m/v/x)", "BI-consultant (m/v/x)")},
           {"en": ("our sales reporting", "a new data warehouse", "demand forecasting"),
            "fr": ("notre reporting commercial", "un nouvel entrepôt de données", "la prévision de la demande"),
            "nl": ("onze verkoopsrapportering", "een nieuw datawarehouse", "vraagvoorspelling")}),
    Domain("erp", ("SAP FI", "SAP CO", "SAP MM", "SAP S/4HANA", "ABAP", "Odoo", "Business analysis"), (85, 135),
           {"en": "Systems", "fr": "Solutions", "nl": "Systemen"},
           {"en": "ERP consulting", "fr": "Conseil ERP", "nl": "ERP-advies"},
           {"en": ("SAP consultant", "Odoo consultant", "ERP analyst"),
            "fr": ("Consultant SAP (h/f/x)", "Consultant Odoo (h/f/x)", "Analyste ERP (h/f/x)"),
            "nl": ("SAP-consultant (m/v/x)", "Odoo-consultant (m/v/x)", "ERP-analist (m/v/x)")},
           {"en": ("the move to S/4HANA", "our purchasing processes", "the year-end closing"),
            "fr": ("le passage à S/4HANA", "nos processus d'achat", "la clôture annuelle"),
            "nl": ("de overstap naar S/4HANA", "onze aankoopprocessen", "de jaarafsluiting")}),
    Domain("finance", ("Accounting", "Belgian GAAP", "IFRS", "Controlling", "Payroll", "Excel", "VAT"), (55, 95),
           {"en": "Finance", "fr": "Finance", "nl": "Finance"},
           {"en": "Accounting and finance", "fr": "Comptabilité et finance", "nl": "Boekhouding en financiën"},
           {"en": ("Accountant", "Financial controller", "Interim CFO"),
            "fr": ("Comptable (h/f/x)", "Contrôleur de gestion (h/f/x)", "CFO de transition (h/f/x)"),
            "nl": ("Boekhouder (m/v/x)", "Controller (m/v/x)", "Interim-CFO (m/v/x)")},
           {"en": ("the annual accounts", "our monthly closing", "a VAT audit"),
            "fr": ("les comptes annuels", "notre clôture mensuelle", "un contrôle TVA"),
            "nl": ("de jaarrekening", "onze maandafsluiting", "een btw-controle")}),
    Domain("marketing", ("SEO", "Google Ads", "Copywriting", "Social media", "Content strategy", "HubSpot",
                         "Google Analytics"), (50, 90),
           {"en": "Marketing", "fr": "Communication", "nl": "Communicatie"},
           {"en": "Digital marketing", "fr": "Marketing digital", "nl": "Digitale marketing"},
           {"en": ("Digital marketer", "Copywriter", "SEO specialist"),
            "fr": ("Marketeur digital (h/f/x)", "Rédacteur (h/f/x)", "Spécialiste SEO (h/f/x)"),
            "nl": ("Digital marketeer (m/v/x)", "Copywriter (m/v/x)", "SEO-specialist (m/v/x)")},
           {"en": ("the launch of a new product", "our webshop", "a spring campaign"),
            "fr": ("le lancement d'un nouveau produit", "notre boutique en ligne", "une campagne de printemps"),
            "nl": ("de lancering van een nieuw product", "onze webshop", "een lentecampagne")}),
    Domain("design", ("Figma", "UX research", "UI design", "Adobe Illustrator", "Branding", "Accessibility"),
           (55, 95),
           {"en": "Studio", "fr": "Studio", "nl": "Studio"},
           {"en": "Design", "fr": "Design", "nl": "Design"},
           {"en": ("UX designer", "UI designer", "Graphic designer"),
            "fr": ("Designer UX (h/f/x)", "Designer UI (h/f/x)", "Graphiste (h/f/x)"),
            "nl": ("UX-designer (m/v/x)", "UI-designer (m/v/x)", "Grafisch ontwerper (m/v/x)")},
           {"en": ("our new website", "the app's onboarding", "a brand refresh"),
            "fr": ("notre nouveau site web", "l'accueil des nouveaux utilisateurs de l'application",
                   "le rafraîchissement de notre marque"),
            "nl": ("onze nieuwe website", "de onboarding in de app", "een vernieuwing van ons merk")}),
    Domain("projects", ("Project management", "Scrum", "PRINCE2", "Change management", "Business analysis",
                        "Jira"), (75, 115),
           {"en": "Consulting", "fr": "Conseil", "nl": "Consult"},
           {"en": "Project management", "fr": "Gestion de projet", "nl": "Projectmanagement"},
           {"en": ("Project manager", "Scrum master", "Business analyst"),
            "fr": ("Chef de projet (h/f/x)", "Scrum master (h/f/x)", "Analyste métier (h/f/x)"),
            "nl": ("Projectleider (m/v/x)", "Scrum master (m/v/x)", "Business analist (m/v/x)")},
           {"en": ("the merger of two departments", "a new CRM", "our digital transformation"),
            "fr": ("la fusion de deux départements", "un nouveau CRM", "notre transformation numérique"),
            "nl": ("de fusie van twee afdelingen", "een nieuw CRM", "onze digitale transformatie")}),
    Domain("engineering", ("AutoCAD", "Revit", "HVAC", "Structural engineering", "Electrical design",
                           "PLC programming", "Siemens TIA Portal"), (60, 100),
           {"en": "Engineering", "fr": "Ingénierie", "nl": "Engineering"},
           {"en": "Engineering", "fr": "Ingénierie", "nl": "Engineering"},
           {"en": ("Design engineer", "Automation engineer", "HVAC engineer"),
            "fr": ("Ingénieur d'études (h/f/x)", "Automaticien (h/f/x)", "Ingénieur HVAC (h/f/x)"),
            "nl": ("Ontwerpingenieur (m/v/x)", "Automatisatie-ingenieur (m/v/x)", "HVAC-ingenieur (m/v/x)")},
           {"en": ("a new production line", "the renovation of our offices", "a school building"),
            "fr": ("une nouvelle ligne de production", "la rénovation de nos bureaux", "un bâtiment scolaire"),
            "nl": ("een nieuwe productielijn", "de renovatie van onze kantoren", "een schoolgebouw")}),
    Domain("translation", ("Translation FR-NL", "Translation NL-FR", "Translation EN-FR", "Translation EN-NL",
                           "Proofreading", "Subtitling"), (40, 70),
           {"en": "Translations", "fr": "Traductions", "nl": "Vertalingen"},
           {"en": "Translation", "fr": "Traduction", "nl": "Vertaling"},
           {"en": ("Translator", "Proofreader"),
            "fr": ("Traducteur (h/f/x)", "Correcteur (h/f/x)"),
            "nl": ("Vertaler (m/v/x)", "Corrector (m/v/x)")},
           {"en": ("our product catalogue", "the annual report", "our website"),
            "fr": ("notre catalogue de produits", "le rapport annuel", "notre site web"),
            "nl": ("onze productcatalogus", "het jaarverslag", "onze website")}),
)
GENERAL_SKILLS = ("Excel", "Project management", "Presentation", "Training", "Jira")

HEADLINES = {
    "en": "{specialty}: {years} years of experience in {skills}",
    "fr": "{specialty} : {years} ans d'expérience en {skills}",
    "nl": "{specialty}: {years} jaar ervaring met {skills}",
}
MISSION_TITLES = {"en": "{role} for {project}", "fr": "{role} pour {project}", "nl": "{role} voor {project}"}
MISSION_DESCRIPTIONS = {
    "en": "{company} is looking for a freelancer to work on {project}. You will work mainly with {skills}, "
          "in a small team that values autonomy and clear communication.",
    "fr": "{company} cherche un ou une freelance pour travailler sur {project}. Vous travaillerez surtout avec "
          "{skills}, au sein d'une petite équipe qui apprécie l'autonomie et une communication claire.",
    "nl": "{company} zoekt een freelancer voor {project}. Je werkt vooral met {skills}, in een klein team dat "
          "zelfstandigheid en heldere communicatie waardeert.",
}
SUMMARIES = {
    "en": "I help teams with {skills}, on site or remotely.",
    "fr": "J'accompagne les équipes en {skills}, sur site ou à distance.",
    "nl": "Ik help teams met {skills}, ter plaatse of op afstand.",
}
# Level weights from 1 to 5: most freelancers list what they master.
LEVEL_WEIGHTS = (4, 12, 34, 32, 18)
MISSION_STATUS_WEIGHTS = {"published": 80, "draft": 8, "paused": 6, "closed": 6}


@dataclass
class SeedData:
    """Rows to insert, as dicts; ``ref`` keys point at rows of other lists by index."""

    companies: list[dict[str, Any]] = field(default_factory=list)
    client_users: list[dict[str, Any]] = field(default_factory=list)
    freelancer_users: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    profile_skills: list[list[dict[str, Any]]] = field(default_factory=list)
    profile_languages: list[list[str]] = field(default_factory=list)
    experiences: list[list[dict[str, Any]]] = field(default_factory=list)
    missions: list[dict[str, Any]] = field(default_factory=list)
    mission_skills: list[list[dict[str, Any]]] = field(default_factory=list)
    mission_languages: list[list[str]] = field(default_factory=list)


def enterprise_number(rng: random.Random) -> str:
    """Return a valid Belgian enterprise number: 0, seven digits, and 97 - (first 8 mod 97)."""
    first8 = f"0{rng.randrange(2_000_000, 9_999_999):07d}"
    return f"{first8}{97 - int(first8) % 97:02d}"


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[key] for key in keys])[0]


def _primary_language(rng: random.Random, region: str) -> str:
    if region in FLEMISH:
        return "nl"
    if region == "BE-BRU":
        return _weighted(rng, {"fr": 60, "nl": 25, "en": 15})
    return "fr"


def _company_language(rng: random.Random, region: str) -> str:
    """Return the language a company writes its missions in; international firms write in English."""
    if region == "BE-BRU":
        return _weighted(rng, {"fr": 45, "nl": 25, "en": 30})
    return "en" if rng.random() < 0.08 else _primary_language(rng, region)


def _spoken_languages(rng: random.Random, region: str, primary: str) -> list[str]:
    spoken = [primary]
    national = "fr" if primary == "nl" else "nl"
    if primary == "en":
        spoken.append(_weighted(rng, {"fr": 70, "nl": 30}))
    elif rng.random() < (0.6 if region == "BE-BRU" else 0.35):
        spoken.append(national)
    if "en" not in spoken and rng.random() < 0.75:
        spoken.append("en")
    if region == "BE-WLG" and rng.random() < 0.15:
        spoken.append("de")
    return spoken


def _person_name(rng: random.Random, primary: str) -> str:
    # Brussels and English-speaking freelancers draw from both lists.
    pool = primary if primary in FIRST_NAMES else rng.choice(["fr", "nl"])
    surname_pool = pool if rng.random() < 0.8 else rng.choice(["fr", "nl"])
    return f"{rng.choice(FIRST_NAMES[pool])} {rng.choice(SURNAMES[surname_pool])}"


def _company_name(rng: random.Random, domain: Domain, language: str) -> str:
    return f"{rng.choice(PLACE_NAMES)} {domain.trade[language]} {rng.choice(LEGAL_FORMS[language])}"


def _skill_list(names: list[str], language: str) -> str:
    joiner = {"en": " and ", "fr": " et ", "nl": " en "}[language]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + joiner + names[-1]


def generate(seed: int, *, profiles: int, missions: int, reference_date: date,
             experiences: bool = True) -> SeedData:
    """Generate the rows of ``profiles`` freelancers and ``missions`` missions; same seed, same rows."""
    rng = random.Random(seed)
    data = SeedData()

    company_count = max(1, missions // 3)
    for index in range(company_count):
        domain = rng.choice(DOMAINS)
        region = _weighted(rng, REGION_WEIGHTS)
        language = _company_language(rng, region)
        postal_code, city = rng.choice(CITIES[region])
        address_language = "nl" if region in FLEMISH or (region == "BE-BRU" and language == "nl") else "fr"
        data.companies.append({
            "name": _company_name(rng, domain, language), "enterprise_number": enterprise_number(rng),
            "street": f"{rng.choice(STREETS[address_language])} {rng.randint(1, 220)}",
            "postal_code": postal_code, "city": city[address_language] if isinstance(city, dict) else city,
            "_domain": domain, "_region": region, "_language": language,
        })
        name = _person_name(rng, language)
        data.client_users.append({"email": f"client{index + 1}@{SEED_EMAIL_DOMAIN}", "name": name,
                                  "role": "client", "language": language if language != "en" else None})

    for index in range(profiles):
        domain = rng.choice(DOMAINS)
        region = _weighted(rng, REGION_WEIGHTS)
        primary = _primary_language(rng, region)
        name = _person_name(rng, primary)
        skill_names = rng.sample(domain.skills, k=min(len(domain.skills), rng.randint(3, 7)))
        if rng.random() < 0.4:
            extra = rng.choice(GENERAL_SKILLS)
            if extra not in skill_names:
                skill_names.append(extra)
        levels = rng.choices((1, 2, 3, 4, 5), weights=LEVEL_WEIGHTS, k=len(skill_names))
        travel_regions = ["BE-BRU"] if region != "BE-BRU" and rng.random() < 0.2 else []
        years = rng.randint(2, 25)

        data.freelancer_users.append({"email": f"freelancer{index + 1}@{SEED_EMAIL_DOMAIN}", "name": name,
                                      "role": "freelancer", "language": primary if primary != "en" else None})
        data.profiles.append({
            "slug": f"{slugify(name)}-{index + 1}", "name": name,
            "headline": HEADLINES[primary].format(specialty=domain.specialty[primary], years=years,
                                                  skills=_skill_list(skill_names[:2], primary)),
            "summary": SUMMARIES[primary].format(skills=_skill_list(skill_names[:3], primary)),
            "hourly_rate": Decimal(rng.randrange(domain.rates[0], domain.rates[1] + 1, 5)),
            "available_from": reference_date + timedelta(days=rng.randint(-30, 90)),
            "hours_per_week": rng.choice((16, 24, 32, 36, 38, 40, 40, 40)), "region": region,
            "travel_km": rng.choice((0, 20, 30, 50, 50, 80, 120)), "travel_regions": travel_regions,
            "published": rng.random() < 0.95,
        })
        data.profile_skills.append([{"name": skill, "level": level} for skill, level in zip(skill_names, levels)])
        data.profile_languages.append(_spoken_languages(rng, region, primary))
        jobs = []
        if experiences:
            end = reference_date
            for _ in range(rng.randint(1, 3)):
                start = end - timedelta(days=rng.randint(180, 1400))
                organisation = _company_name(rng, rng.choice(DOMAINS), primary if primary != "en" else "nl")
                jobs.append({"title": domain.specialty[primary],
                             "organisation": organisation, "start_date": start,
                             "end_date": end if end < reference_date else None, "description": ""})
                end = start - timedelta(days=rng.randint(0, 90))
        data.experiences.append(jobs)

    for _ in range(missions):
        company_index = rng.randrange(company_count)
        company = data.companies[company_index]
        domain: Domain = company["_domain"]
        language = company["_language"]
        role = rng.choice(domain.roles[language])
        project = rng.choice(domain.projects[language])
        required = rng.sample(domain.skills, k=rng.randint(1, 3))
        optional = [skill for skill in rng.sample(domain.skills, k=2) if skill not in required][:rng.randint(0, 2)]
        weeks = rng.choice((4, 8, 12, 13, 26, 39, 52))
        hours = rng.choice((16, 24, 32, 36, 38, 40))
        rate = Decimal(rng.randrange(domain.rates[0] + 5, domain.rates[1] + 11, 5))
        uses_budget = rng.random() < 0.2
        work_mode = _weighted(rng, {"onsite": 40, "hybrid": 40, "remote": 20})
        spoken = [language] if language != "en" else ["en", rng.choice(["fr", "nl"])]
        if rng.random() < 0.3 and "en" not in spoken:
            spoken.append("en")
        data.missions.append({
            "_company": company_index,
            "title": MISSION_TITLES[language].format(role=role, project=project),
            "description": MISSION_DESCRIPTIONS[language].format(
                company=company["name"], project=project, skills=_skill_list(required, language)),
            "work_mode": work_mode, "region": None if work_mode == "remote" else company["_region"],
            "start_date": reference_date + timedelta(days=rng.randint(7, 60)), "duration_weeks": weeks,
            "hours_per_week": hours, "max_rate": None if uses_budget else rate,
            "budget": (rate * weeks * hours).quantize(Decimal(1000)) if uses_budget else None,
            "status": _weighted(rng, MISSION_STATUS_WEIGHTS),
        })
        data.mission_skills.append(
            [{"name": skill, "min_level": rng.choice((2, 3, 3, 4)), "required": True} for skill in required]
            + [{"name": skill, "min_level": rng.choice((2, 3)), "required": False} for skill in optional])
        data.mission_languages.append(spoken)
    return data


def _insert_returning_ids(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in one statement per batch and return their new ids, in the order of ``rows``."""
    if not rows:
        return []
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [row.id for row in session.connection().execute(statement, rows)]


def _insert(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.connection().execute(sa.insert(table), rows)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if not key.startswith("_")}


def _chunks(rows: list, size: int = 2000) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


@dataclass(frozen=True)
class SeedSummary:
    companies: int
    freelancers: int
    missions: int


def write(session: Session, data: SeedData) -> SeedSummary:
    """Insert the generated rows in bulk, in the caller's transaction."""
    now = utcnow()
    password_hash = accounts.password_hasher.hash(SEED_PASSWORD)

    users = [{**row, "password_hash": password_hash, "is_demo": False, "created_at": now}
             for row in data.client_users + data.freelancer_users]
    user_ids = []
    for chunk in _chunks(users):
        user_ids += _insert_returning_ids(session, User.__table__, chunk)
    client_ids, freelancer_ids = user_ids[:len(data.client_users)], user_ids[len(data.client_users):]

    company_ids = _insert_returning_ids(session, Company.__table__,
                                        [{**_public(row), "created_at": now} for row in data.companies])
    _insert(session, CompanyMember.__table__, [{"company_id": company_id, "user_id": user_id, "created_at": now}
                                               for company_id, user_id in zip(company_ids, client_ids)])

    profile_ids = []
    profile_rows = [{**row, "user_id": user_id, "created_at": now, "updated_at": now}
                    for row, user_id in zip(data.profiles, freelancer_ids)]
    for chunk in _chunks(profile_rows):
        profile_ids += _insert_returning_ids(session, FreelancerProfile.__table__, chunk)

    skills, languages, reach, experiences = [], [], [], []
    for profile_id, row, profile_skills, spoken, jobs in zip(profile_ids, data.profiles, data.profile_skills,
                                                             data.profile_languages, data.experiences):
        skills += [{"profile_id": profile_id, "skill_key": skill_key(skill["name"]), **skill}
                   for skill in profile_skills]
        languages += [{"profile_id": profile_id, "language": code} for code in spoken]
        reach += [{"profile_id": profile_id, "region": region} for region in
                  sorted(regions.reachable_regions(row["region"], row["travel_km"], row["travel_regions"]))]
        experiences += [{"profile_id": profile_id, **job} for job in jobs]
    for table, rows in ((ProfileSkill.__table__, skills), (ProfileLanguage.__table__, languages),
                        (ProfileReach.__table__, reach), (Experience.__table__, experiences)):
        for chunk in _chunks(rows):
            _insert(session, table, chunk)

    mission_rows = [{**_public(row), "company_id": company_ids[row["_company"]],
                     "created_by": client_ids[row["_company"]], "created_at": now, "updated_at": now,
                     "published_at": now if row["status"] != "draft" else None} for row in data.missions]
    mission_ids = _insert_returning_ids(session, Mission.__table__, mission_rows)
    _insert(session, MissionSkill.__table__, [
        {"mission_id": mission_id, "skill_key": skill_key(skill["name"]), **skill}
        for mission_id, mission_skills in zip(mission_ids, data.mission_skills) for skill in mission_skills])
    _insert(session, MissionLanguage.__table__, [
        {"mission_id": mission_id, "language": code}
        for mission_id, spoken in zip(mission_ids, data.mission_languages) for code in spoken])
    session.flush()
    log.info("seed.written", companies=len(company_ids), freelancers=len(profile_ids), missions=len(mission_ids))
    return SeedSummary(companies=len(company_ids), freelancers=len(profile_ids), missions=len(mission_ids))


@click.command("seed")
@click.option("--profiles", default=300, show_default=True, help="number of freelancers to create")
@click.option("--missions", default=100, show_default=True, help="number of missions to create")
@click.option("--seed", "seed", default=2026, show_default=True, help="random seed: the same seed gives the same data")
@click.option("--reference-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="date that availabilities and start dates are counted from (default: today)")
def seed_command(profiles: int, missions: int, seed: int, reference_date) -> None:
    """Fill the database of IKKI_DATABASE_URL with generated freelancers, companies and missions."""
    from backend.core.db import get_engine, migrate, session_scope
    from backend.core.logging import configure_logging
    from backend.core.settings import get_settings

    settings = get_settings()
    configure_logging(settings.environment)
    migrate(settings.database_url)
    reference = reference_date.date() if reference_date else today_brussels()
    data = generate(seed, profiles=profiles, missions=missions, reference_date=reference)
    with session_scope(get_engine(settings.database_url)) as session:
        summary = write(session, data)
    click.echo(f"Seeded {summary.freelancers} freelancers, {summary.companies} companies and "
               f"{summary.missions} missions. Every seeded account has the password {SEED_PASSWORD}.")


if __name__ == "__main__":
    seed_command()
