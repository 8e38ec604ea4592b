"""The clinic's clock: days are counted in the clinic's timezone, never the server's."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def clinic_timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


def utcnow() -> datetime:
    return datetime.now(UTC)


def clinic_today(now: datetime | None = None) -> date:
    """Today's date in the clinic's timezone (an injectable `now` for tests and `as_of`)."""
    return (now or utcnow()).astimezone(clinic_timezone()).date()


def clinic_date(moment: datetime) -> date:
    """The clinic's calendar day of a moment; naive moments are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(clinic_timezone()).date()


def day_text(day: date | None) -> str:
    """A calendar day as people in the clinic read it: 2 Dec 2026."""
    if day is None:
        return ""
    return f"{day.day} {day.strftime('%b %Y')}"


def moment_text(moment: datetime | None) -> str:
    """A stored moment on the clinic's wall clock, to the minute: 2 Dec 2026, 14:05."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(clinic_timezone())
    return f"{day_text(local.date())}, {local.strftime('%H:%M')}"
