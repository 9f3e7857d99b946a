"""English labels of statuses and choices. Each label is a msgid, translated where it is shown."""

from __future__ import annotations


def gettext_noop(text: str) -> str:
    """Mark ``text`` as a msgid for the catalogs without translating it here."""
    return text


MISSION_STATUS_LABELS = {
    "draft": gettext_noop("Draft"),
    "published": gettext_noop("Published"),
    "paused": gettext_noop("Paused"),
    "filled": gettext_noop("Filled"),
    "closed": gettext_noop("Closed"),
}

# Labels of the actions that move a mission to each status.
MISSION_ACTION_LABELS = {
    "published": gettext_noop("Publish"),
    "paused": gettext_noop("Pause"),
    "filled": gettext_noop("Mark as filled"),
    "closed": gettext_noop("Close"),
}

APPLICATION_STATUS_LABELS = {
    "invited": gettext_noop("Invitation sent"),
    "applied": gettext_noop("Application received"),
    "shortlisted": gettext_noop("Shortlisted"),
    "accepted": gettext_noop("Hired"),
    "rejected": gettext_noop("Not selected"),
    "declined": gettext_noop("Invitation declined"),
    "withdrawn": gettext_noop("Withdrawn"),
}

WORK_MODE_LABELS = {
    "onsite": gettext_noop("On site"),
    "hybrid": gettext_noop("Partly remote"),
    "remote": gettext_noop("Remote"),
}

CHECK_KIND_LABELS = {
    "reference": gettext_noop("Reference check"),
    "skill_test": gettext_noop("Skill test"),
}

CHECK_OUTCOME_LABELS = {
    "positive": gettext_noop("Positive"),
    "mixed": gettext_noop("Mixed"),
    "negative": gettext_noop("Negative"),
}

SKILL_LEVEL_LABELS = {
    1: gettext_noop("1 · beginner"),
    2: gettext_noop("2 · junior"),
    3: gettext_noop("3 · confirmed"),
    4: gettext_noop("4 · senior"),
    5: gettext_noop("5 · expert"),
}

CONNECTION_STATUS_LABELS = {
    "pending": gettext_noop("Waiting for an answer"),
    "accepted": gettext_noop("Contact"),
    "declined": gettext_noop("Declined"),
}
