"""Outbound webhook subscriptions (admins) and their delivery log.

The signing secret is generated here and shown once, in the answer to the create call; the
subscriber keeps it to check `X-Aftercare-Signature` (see integrations/signed_post.py).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, Field, HttpUrl, field_validator
from sqlmodel import Session, col, select

from api.deps import PageLimit, PageOffset, SessionDep, require_roles
from api.errors import refusals
from db.models import User, WebhookDelivery, WebhookSubscription
from domain.roles import Role
from domain.text import NO_CONTROL_CHARACTERS
from domain.webhooks import DeliveryStatus, pattern_problem

router = APIRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    responses=refusals(401, 403),
)
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
EventTypes = Annotated[list[str], Field(min_length=1, max_length=20)]


def _known_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        if problem := pattern_problem(pattern):
            raise ValueError(problem)
    return list(dict.fromkeys(patterns))


class SubscriptionIn(BaseModel):
    url: HttpUrl
    event_types: EventTypes
    description: Annotated[str, Field(max_length=200), NO_CONTROL_CHARACTERS] = ""

    _check_event_types = field_validator("event_types")(_known_patterns)


class SubscriptionChange(BaseModel):
    url: HttpUrl | None = None
    event_types: EventTypes | None = None
    description: Annotated[str, Field(max_length=200), NO_CONTROL_CHARACTERS] | None = None
    active: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _check_event_types(cls, patterns: list[str] | None) -> list[str] | None:
        return None if patterns is None else _known_patterns(patterns)


class SubscriptionOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_by: str
    created_at: AwareDatetime


class SubscriptionCreated(SubscriptionOut):
    secret: str  # shown this once


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    case_type: str
    case_id: str
    status: DeliveryStatus
    attempts: int
    response_status: int | None
    response_excerpt: str | None
    created_at: AwareDatetime
    delivered_at: AwareDatetime | None


def _subscription(session: Session, subscription_id: str) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no webhook subscription {subscription_id}")
    return subscription


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubscriptionCreated)
def create_subscription(body: SubscriptionIn, session: SessionDep, admin: AdminUser) -> SubscriptionCreated:
    subscription = WebhookSubscription(
        id=f"wh_{secrets.token_hex(8)}",
        url=str(body.url),
        secret=secrets.token_urlsafe(32),
        event_types=body.event_types,
        description=body.description,
        created_by=admin.id,
    )
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return SubscriptionCreated.model_validate(subscription, from_attributes=True)


@router.get("", response_model=list[SubscriptionOut])
def list_subscriptions(session: SessionDep) -> list[WebhookSubscription]:
    return list(session.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.created_at))))


@router.patch("/{subscription_id}", response_model=SubscriptionOut, responses=refusals(404))
def change_subscription(
    subscription_id: str, body: SubscriptionChange, session: SessionDep
) -> WebhookSubscription:
    """Change the URL, the event types or the description, or pause (active=false) and resume.
    A paused subscription gets no new deliveries; its log is kept."""
    subscription = _subscription(session, subscription_id)
    changes = body.model_dump(exclude_none=True)
    if "url" in changes:
        changes["url"] = str(body.url)
    for field, value in changes.items():
        setattr(subscription, field, value)
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return subscription


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryOut], responses=refusals(404))
def list_deliveries(
    subscription_id: str,
    session: SessionDep,
    status_filter: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> list[WebhookDelivery]:
    """Newest first: what was sent to this subscriber, how often, and what it answered."""
    _subscription(session, subscription_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status_filter is not None:
        query = query.where(WebhookDelivery.status == status_filter.value)
    query = query.order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
    return list(session.exec(query.offset(offset).limit(limit)))
