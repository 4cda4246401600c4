"""Students and their paid orders written straight to the database, as the school's commerce system
and sign-up would leave them: for tests, and for the benches that load the running system."""

from __future__ import annotations

import secrets
from datetime import timedelta

from api.security import hash_password
from db.engine import SessionFactory
from db.models import Course, Order, User
from domain.courses import CourseType, Gateway
from domain.roles import Role
from domain.timeutil import utcnow

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # once: hashing is slow on purpose


def make_user(
    sessions: SessionFactory, role: Role, *, locale: str = "zh-CN", name: str | None = None
) -> User:
    suffix = secrets.token_hex(4)
    user = User(
        id=f"{role.value[:3].upper()}{suffix}",
        email=f"{role.value}-{suffix}@example.test",
        display_name=name or f"{role.value} {suffix}",
        role=role.value,
        locale=locale,
        password_hash=_PASSWORD_HASH,
    )
    with sessions() as session:
        session.add(user)
        session.commit()
    return user


def make_order(
    sessions: SessionFactory,
    student: User,
    *,
    course_type: CourseType = CourseType.REGULAR,
    amount_paid_fen: int = 199_900,
    starts_in: timedelta = timedelta(days=1),
    gateway: Gateway = Gateway.WECHATPAY,
) -> Order:
    suffix = secrets.token_hex(4)
    now = utcnow()
    with sessions() as session:
        course = Course(
            id=f"C-{suffix}", name=f"测试课程 {suffix}", type=course_type.value, starts_at=now + starts_in
        )
        order = Order(
            id=f"O-{suffix}",
            student_id=student.id,
            course_id=course.id,
            amount_paid_fen=amount_paid_fen,
            paid_at=now - timedelta(days=1),
            gateway=gateway.value,
            gateway_trade_no=f"T{suffix}",
        )
        session.add(course)
        session.add(order)
        session.commit()
    return order
