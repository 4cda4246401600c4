"""The signed-in user's own things: profile, notice preferences, orders, in-app inbox."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlmodel import Session, col, func, select
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser, PageLimit, PageOffset, SessionDep
from api.errors import field_error, refusals
from api.services.customers import customer_ids
from db.models import Course, Notification, Order, User
from domain.notifications import MUTABLE_CHANNELS, Channel
from domain.timeutil import utcnow
from integrations.delivery import PermanentDeliveryError

router = APIRouter(prefix="/api/me", tags=["me"], responses=refusals(401))


class MeOut(BaseModel):
    id: str
    email: str | None  # None for a customer known only by phone or WeChat
    display_name: str
    role: str
    locale: str


class MyOrder(BaseModel):
    order_id: str
    course_id: str
    course_name: str
    course_type: str
    course_starts_at: AwareDatetime | None
    amount_paid_fen: int
    paid_at: AwareDatetime
    gateway: str


class InboxMessage(BaseModel):
    id: str
    event: str
    case_type: str
    case_id: str
    subject: str
    body_text: str
    created_at: AwareDatetime
    read_at: AwareDatetime | None


class Inbox(BaseModel):
    unread: int
    messages: list[InboxMessage]


@router.get("", response_model=MeOut)
def me(user: CurrentUser) -> MeOut:
    return MeOut.model_validate(user, from_attributes=True)


class Preferences(BaseModel):
    """How the user likes to be told. Notices about their money ignore muted channels, and the
    inbox keeps every notice: it cannot be muted."""

    locale: Literal["zh-CN", "en"]
    muted_channels: list[Channel]

    @field_validator("muted_channels")
    @classmethod
    def _only_mutable(cls, channels: list[Channel]) -> list[Channel]:
        refused = [channel.value for channel in channels if channel not in MUTABLE_CHANNELS]
        if refused:
            allowed = ", ".join(sorted(channel.value for channel in MUTABLE_CHANNELS))
            raise ValueError(f"cannot mute {', '.join(refused)}; these can be muted: {allowed}")
        return list(dict.fromkeys(channels))


@router.get("/preferences", response_model=Preferences)
def get_preferences(user: CurrentUser) -> Preferences:
    return Preferences(locale=user.locale, muted_channels=user.muted_channels)


@router.put("/preferences", response_model=Preferences)
def put_preferences(body: Preferences, user: CurrentUser, session: SessionDep) -> Preferences:
    """Applies to refunds and complaints started from now on (a running one keeps what it began with)."""
    user.locale = body.locale
    user.muted_channels = [channel.value for channel in body.muted_channels]
    session.add(user)
    session.commit()
    return Preferences(locale=user.locale, muted_channels=user.muted_channels)


class WeChatLogin(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]


class WeChatBinding(BaseModel):
    bound: bool


@router.put(
    "/wechat",
    response_model=WeChatBinding,
    responses=refusals(
        409, 503, meanings={409: "no WeChat app is connected here", 503: "WeChat did not answer; try again"}
    ),
)
async def bind_wechat(
    body: WeChatLogin, request: Request, user: CurrentUser, session: SessionDep
) -> WeChatBinding:
    """The mini-program sends its login code (wx.login); WeChat tells us the student's openid, so
    notices can reach them as subscribe messages. The openid itself is never shown."""
    wechat = request.app.state.wechat
    if wechat is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "no WeChat app is connected here")
    try:
        openid = await wechat.openid_for(body.code)
    except PermanentDeliveryError as exc:
        raise field_error("code", str(exc)) from exc
    except (httpx.HTTPError, ConnectionError) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "WeChat did not answer; try again") from exc
    await run_in_threadpool(_set_openid, session, user, openid)
    return WeChatBinding(bound=True)


@router.delete("/wechat", response_model=WeChatBinding)
def unbind_wechat(user: CurrentUser, session: SessionDep) -> WeChatBinding:
    _set_openid(session, user, None)
    return WeChatBinding(bound=False)


def _set_openid(session: Session, user: User, openid: str | None) -> None:
    user.wechat_openid = openid
    session.add(user)
    session.commit()


@router.get("/orders", response_model=list[MyOrder])
def my_orders(user: CurrentUser, session: SessionDep) -> list[MyOrder]:
    rows = session.exec(
        select(Order, Course)
        .join(Course)
        .where(Order.student_id == user.id)
        .order_by(col(Order.paid_at).desc())
    )
    return [
        MyOrder(
            order_id=order.id,
            course_id=course.id,
            course_name=course.name,
            course_type=course.type,
            course_starts_at=course.starts_at,
            amount_paid_fen=order.amount_paid_fen,
            paid_at=order.paid_at,
            gateway=order.gateway,
        )
        for order, course in rows
    ]


def _inbox_of(session: Session, user_id: str):
    """The user's inbox notices, and those a running case still addresses to a record merged into theirs."""
    return (
        col(Notification.recipient_user_id).in_(customer_ids(session, user_id)),
        Notification.channel == Channel.INBOX.value,
    )


@router.get("/inbox", response_model=Inbox)
def inbox(
    user: CurrentUser,
    session: SessionDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> Inbox:
    mine = _inbox_of(session, user.id)
    unread = session.exec(
        select(func.count()).select_from(Notification).where(*mine, col(Notification.read_at).is_(None))
    ).one()
    rows = session.exec(
        select(Notification)
        .where(*mine)
        .order_by(col(Notification.created_at).desc(), col(Notification.id))
        .offset(offset)
        .limit(limit)
    )
    return Inbox(
        unread=unread, messages=[InboxMessage.model_validate(row, from_attributes=True) for row in rows]
    )


@router.post("/inbox/{message_id}/read", response_model=InboxMessage, responses=refusals(404))
def mark_read(message_id: str, user: CurrentUser, session: SessionDep) -> InboxMessage:
    row = session.exec(
        select(Notification).where(Notification.id == message_id, *_inbox_of(session, user.id))
    ).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id} in your inbox")
    if row.read_at is None:
        row.read_at = utcnow()
        session.add(row)
        session.commit()
    return InboxMessage.model_validate(row, from_attributes=True)
