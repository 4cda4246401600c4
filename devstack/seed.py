"""Demo data for `make dev`: one account per role (password `demo`), a course of each type, orders
for the demo student, and the sandbox CRM as a webhook subscriber. Only adds what is missing (the
subscriber's URL follows the sandbox's port), so a second run keeps everything."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from api.security import hash_password
from db.engine import build_engine
from db.models import (
    Course,
    DepartmentMember,
    Order,
    ReviewerGroup,
    ReviewerGroupMember,
    User,
    WebhookSubscription,
)
from devstack.school_systems import CRM_EVENTS_PATH, DEV_CRM_WEBHOOK_SECRET
from domain.complaints import Department
from domain.courses import CourseType, Gateway
from domain.roles import Role
from domain.timeutil import utcnow
from settings import get_settings

DEMO_PASSWORD = "demo"

DEMO_USERS = [
    # (id, email, display name, role, locale, phone)
    ("S1001", "student@demo", "林小雨", Role.STUDENT, "zh-CN", "13800138000"),
    ("U2001", "reviewer@demo", "王审核", Role.REVIEWER, "zh-CN", None),
    ("U2002", "agent@demo", "陈客服", Role.AGENT, "zh-CN", None),
    ("U2003", "lead@demo", "刘主管", Role.LEAD, "zh-CN", None),
    ("U2004", "finance@demo", "赵财务", Role.FINANCE, "zh-CN", None),
    ("U2005", "admin@demo", "系统管理员", Role.ADMIN, "zh-CN", None),
    ("U2006", "integration@demo", "商城对接", Role.INTEGRATION, "zh-CN", None),
]


DEV_CRM_SUBSCRIPTION_ID = "wh_dev_crm"
CRM_EVENT_TYPES = ["refund.*", "complaint.*"]


def seed(session: Session, sandbox_base_url: str | None = None) -> list[str]:
    """Insert the demo rows that are not there yet; return what was added. With the sandbox's URL,
    its CRM stand-in is subscribed to every refund event."""
    added: list[str] = []
    now = utcnow()
    password_hash = None
    for user_id, email, name, role, locale, phone in DEMO_USERS:
        if session.get(User, user_id) is None:
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            session.add(
                User(
                    id=user_id,
                    email=email,
                    display_name=name,
                    role=role.value,
                    locale=locale,
                    phone=phone,
                    password_hash=password_hash,
                )
            )
            added.append(f"user {email}")
    courses = [
        ("C-TRIAL-PY", "Python 编程体验课", CourseType.TRIAL, now + timedelta(days=14)),
        ("C-REG-DATA", "数据分析系统正价课", CourseType.REGULAR, now - timedelta(days=3)),
        ("C-PREM-AI", "AI 工程师高端定制课", CourseType.PREMIUM, now + timedelta(days=30)),
    ]
    for course_id, name, course_type, starts_at in courses:
        if session.get(Course, course_id) is None:
            session.add(Course(id=course_id, name=name, type=course_type.value, starts_at=starts_at))
            added.append(f"course {course_id}")
    session.flush()
    # The demo agent works every department's complaint queue.
    for department in Department:
        if session.get(DepartmentMember, (department.value, "U2002")) is None:
            session.add(DepartmentMember(department=department.value, user_id="U2002"))
            added.append(f"agent@demo in {department.value}")
    # The demo reviewer reviews for every group (the groups and rules come with migration 0004).
    for group in session.exec(select(ReviewerGroup)):
        if session.get(ReviewerGroupMember, (group.id, "U2001")) is None:
            session.add(ReviewerGroupMember(group_id=group.id, user_id="U2001"))
            added.append(f"reviewer@demo in {group.id}")
    orders = [
        ("O-DEMO-1001", "C-TRIAL-PY", 9_900),
        ("O-DEMO-1002", "C-REG-DATA", 299_900),
        ("O-DEMO-1003", "C-PREM-AI", 1_980_000),
    ]
    for order_id, course_id, amount in orders:
        if session.get(Order, order_id) is None:
            session.add(
                Order(
                    id=order_id,
                    student_id="S1001",
                    course_id=course_id,
                    amount_paid_fen=amount,
                    paid_at=now - timedelta(days=5),
                    gateway=Gateway.WECHATPAY.value,
                    gateway_trade_no=f"42000{order_id[-4:]}2026112012345678",
                )
            )
            added.append(f"order {order_id}")
    if sandbox_base_url:
        crm_url = f"{sandbox_base_url.rstrip('/')}{CRM_EVENTS_PATH}"
        subscription = session.get(WebhookSubscription, DEV_CRM_SUBSCRIPTION_ID)
        if subscription is None:
            session.add(
                WebhookSubscription(
                    id=DEV_CRM_SUBSCRIPTION_ID,
                    url=crm_url,
                    secret=DEV_CRM_WEBHOOK_SECRET,
                    event_types=CRM_EVENT_TYPES,
                    description="sandbox CRM (tags refunded students)",
                    created_by="U2005",
                )
            )
            added.append("webhook subscription for the sandbox CRM")
        elif (subscription.url, subscription.event_types) != (crm_url, CRM_EVENT_TYPES):
            subscription.url, subscription.event_types = crm_url, CRM_EVENT_TYPES
            session.add(subscription)
    session.commit()
    return added


def main() -> None:
    settings = get_settings()
    engine = build_engine(settings.database_url)
    with Session(engine) as session:
        added = seed(session, settings.sandbox_base_url if settings.dev_mode else None)
    engine.dispose()
    print(f"demo seed: added {', '.join(added)}" if added else "demo seed: already there")


if __name__ == "__main__":
    main()
