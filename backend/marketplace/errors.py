"""Expected failures of the marketplace, each with its HTTP status and English message."""

from __future__ import annotations

from backend.core.errors import Conflict, Forbidden, IkkiError, InvalidInput, NotFound


class TranslatedParams(IkkiError):
    """An error whose parameters named in ``translated_params`` are msgids themselves,
    such as status labels, translated together with the message."""

    translated_params: tuple[str, ...] = ()

    def render(self, gettext) -> str:
        params = {name: gettext(value) if name in self.translated_params else value
                  for name, value in self.params.items()}
        return gettext(self.message).format(**params)


class FreelancersOnly(Forbidden):
    message = "Only freelancers can do this."


class ClientsOnly(Forbidden):
    message = "Only clients can do this."


class CompanyMissing(Conflict):
    message = "Your account has no company yet. Fill in your company's details first."


class ProfileMissing(Conflict):
    message = "You have no freelancer profile yet. Fill in your profile first."


class InvalidEnterpriseNumber(InvalidInput):
    message = "Invalid enterprise number {value}: write the 10 digits, such as 0403.170.701."


class EnterpriseNumberTaken(Conflict):
    message = "A company with the enterprise number {value} is already registered. Ask one of its users to add you."


class ProfileNotFound(NotFound):
    message = "Freelancer profile not found."


class MissionNotFound(NotFound):
    message = "Mission {mission_id} not found."


class ApplicationNotFound(NotFound):
    message = "Application {application_id} not found."


class ConnectionNotFound(NotFound):
    message = "Contact {connection_id} not found."


class ExperienceNotFound(NotFound):
    message = "Experience {experience_id} not found."


class SkillNotFound(NotFound):
    message = "Skill {skill_id} not found."


class NoticeNotFound(NotFound):
    message = "Notification {notice_id} not found."


class MissionTransitionNotAllowed(TranslatedParams, Conflict):
    message = "The mission is “{current}”, so it cannot change to “{target}”."
    translated_params = ("current", "target")


class MissionNotEditable(TranslatedParams, Conflict):
    message = "The mission is “{status}”, so it can no longer be changed."
    translated_params = ("status",)


class MissionNotOpen(Conflict):
    message = "This mission is not open to candidates right now."


class ApplicationTransitionNotAllowed(TranslatedParams, Conflict):
    message = "The candidacy is “{current}”, so it cannot change to “{target}”."
    translated_params = ("current", "target")


class AlreadyApplied(Conflict):
    message = "This freelancer is already a candidate for this mission."


class ConnectionNotAllowed(Forbidden):
    message = "Contacts link a freelancer with another freelancer or with a client."


class AlreadyConnected(Conflict):
    message = "You are already in contact with this person, or a request is waiting."


class NotAContact(Forbidden):
    message = "Only your contacts can do this."
