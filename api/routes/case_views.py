"""A case's timeline and notices as the API shows them, the same for refunds and complaints."""

from __future__ import annotations

from collections.abc import Collection

from pydantic import AwareDatetime, BaseModel
from sqlmodel import Session

from api.services.cases import case_notices, case_timeline
from db.models import User
from domain.notifications import Channel, NotificationStatus
from domain.roles import Role


class TimelineItem(BaseModel):
    at: AwareDatetime
    event: str
    actor: str
    from_status: str | None
    to_status: str | None
    note: str


class NoticeSent(BaseModel):
    """One notification about the case: the proof of what was sent, where, and what came back."""

    id: str
    event: str
    channel: Channel
    recipient_user_id: str
    recipient_address: str | None
    subject: str
    status: NotificationStatus
    attempts: int
    provider_response: str | None  # staff only
    fallback_of: str | None
    created_at: AwareDatetime
    sent_at: AwareDatetime | None


def case_history(
    *,
    session: Session,
    user: User,
    case_type: str,
    case_id: str,
    internal_events: Collection[str] = (),
) -> tuple[list[TimelineItem], list[NoticeSent]]:
    """The timeline and the notices; a student sees neither internal events nor providers' answers."""
    student = user.role == Role.STUDENT.value
    timeline = [
        TimelineItem.model_validate(event, from_attributes=True)
        for event in case_timeline(session=session, case_type=case_type, case_id=case_id)
        if not (student and event.event in internal_events)
    ]
    notices = [
        NoticeSent.model_validate(row, from_attributes=True)
        for row in case_notices(session=session, case_type=case_type, case_id=case_id, user=user)
    ]
    if student:
        notices = [notice.model_copy(update={"provider_response": None}) for notice in notices]
    return timeline, notices
