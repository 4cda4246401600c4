"""Orders pushed by the school's commerce system (role `integration`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import AwareDatetime, BaseModel, Field, StrictInt
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.deps import SessionDep, require_roles
from api.errors import field_error, refusals
from api.services.customers import current_record
from db.models import Course, Order, User
from domain.courses import CourseType, Gateway
from domain.roles import Role
from domain.text import NO_CONTROL_CHARACTERS
from domain.timeutil import UtcDatetime, utcnow

router = APIRouter(prefix="/api/orders", tags=["orders"])

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]


class CourseIn(BaseModel):
    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200), NO_CONTROL_CHARACTERS]
    type: CourseType
    starts_at: UtcDatetime | None = None


class ContractIn(BaseModel):
    """Refund terms of a premium course's contract."""

    refund_deadline: UtcDatetime | None = None
    fee_bp: Annotated[int, Field(ge=0, le=10_000)] | None = None


class OrderIn(BaseModel):
    student_id: Identifier
    course: CourseIn
    # Integer fen only: 19900 is ¥199.00; a float or a string is refused rather than guessed at.
    amount_paid_fen: Annotated[StrictInt, Field(gt=0, le=100_000_000)]
    paid_at: UtcDatetime
    gateway: Gateway
    gateway_trade_no: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-|*@]+$")]
    contract: ContractIn | None = None


class OrderOut(BaseModel):
    id: str
    student_id: str
    course_id: str
    course_name: str
    course_type: CourseType
    amount_paid_fen: int
    paid_at: AwareDatetime
    gateway: Gateway


def _upsert(session: Session, order_id: str, body: OrderIn, student_id: str) -> tuple[Order, Course, bool]:
    order = session.get(Order, order_id)
    created = order is None
    if order is not None and order.student_id != student_id:
        raise field_error("student_id", f"order {order_id} belongs to another student")
    now = utcnow()
    # Table models are not validated on construction, so a new row can be filled in below.
    course = session.get(Course, body.course.id) or Course(id=body.course.id)
    course.name = body.course.name
    course.type = body.course.type.value
    course.starts_at = body.course.starts_at
    course.updated_at = now
    session.add(course)
    order = order or Order(id=order_id, student_id=student_id)
    order.course_id = course.id
    order.amount_paid_fen = body.amount_paid_fen
    order.paid_at = body.paid_at
    order.gateway = body.gateway.value
    order.gateway_trade_no = body.gateway_trade_no
    order.contract_refund_deadline = body.contract.refund_deadline if body.contract else None
    order.contract_fee_bp = body.contract.fee_bp if body.contract else None
    order.updated_at = now
    session.add(order)
    session.commit()
    return order, course, created


@router.put(
    "/{order_id}",
    response_model=OrderOut,
    responses={201: {"model": OrderOut, "description": "created"}} | refusals(401, 403),
    dependencies=[Depends(require_roles(Role.INTEGRATION))],
)
def upsert_order(
    order_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")],
    body: OrderIn,
    session: SessionDep,
    response: Response,
) -> OrderOut:
    student = session.get(User, body.student_id)
    if student is None or student.role != Role.STUDENT:
        raise field_error("student_id", f"no student with id {body.student_id}")
    # The commerce system keeps the ids it knows: a record merged into another is that customer now.
    student_id = current_record(session, student).id
    try:
        order, course, created = _upsert(session, order_id, body, student_id)
    except IntegrityError:
        # The commerce system pushed the same new course or order twice at once and the other
        # request inserted it first: apply this one on top.
        session.rollback()
        order, course, created = _upsert(session, order_id, body, student_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return OrderOut(
        id=order.id,
        student_id=order.student_id,
        course_id=course.id,
        course_name=course.name,
        course_type=CourseType(course.type),
        amount_paid_fen=order.amount_paid_fen,
        paid_at=order.paid_at,
        gateway=Gateway(order.gateway),
    )
