from __future__ import annotations

from fastapi.testclient import TestClient

from db.engine import SessionFactory
from db.models import Notification, User
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user


def _inbox_message(sessions: SessionFactory, user_id: str, message_id: str) -> None:
    with sessions() as session:
        session.add(
            Notification(
                id=message_id,
                case_type="refund",
                case_id="RF1",
                event="refund_received",
                channel="inbox",
                recipient_user_id=user_id,
                locale="zh-CN",
                subject="我们已收到您的退款申请",
                body_text="……",
                status="sent",
            )
        )
        session.commit()


def test_the_inbox_counts_unread_and_marks_read(api: TestClient, api_sessions: SessionFactory) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    headers = auth(api, student)
    _inbox_message(api_sessions, student.id, f"m1-{student.id}")
    _inbox_message(api_sessions, student.id, f"m2-{student.id}")
    inbox = api.get("/api/me/inbox", headers=headers).json()
    assert inbox["unread"] == 2 and len(inbox["messages"]) == 2
    read = api.post(f"/api/me/inbox/m1-{student.id}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert api.get("/api/me/inbox", headers=headers).json()["unread"] == 1


def test_nobody_reads_another_students_inbox(api: TestClient, api_sessions: SessionFactory) -> None:
    owner, stranger = make_user(api_sessions, Role.STUDENT), make_user(api_sessions, Role.STUDENT)
    _inbox_message(api_sessions, owner.id, f"private-{owner.id}")
    headers = auth(api, stranger)
    assert api.get("/api/me/inbox", headers=headers).json() == {"unread": 0, "messages": []}
    assert api.post(f"/api/me/inbox/private-{owner.id}/read", headers=headers).status_code == 404
    with api_sessions() as session:
        message = session.get(Notification, f"private-{owner.id}")
    assert message is not None and message.read_at is None


def test_a_student_sets_their_preferences_and_cannot_mute_the_inbox(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    headers = auth(api, student)
    assert api.get("/api/me/preferences", headers=headers).json() == {"locale": "zh-CN", "muted_channels": []}
    saved = api.put(
        "/api/me/preferences",
        json={"locale": "en", "muted_channels": ["sms", "sms", "email"]},
        headers=headers,
    )
    assert saved.status_code == 200 and saved.json() == {"locale": "en", "muted_channels": ["sms", "email"]}
    for bad, problem in [
        ({"locale": "en", "muted_channels": ["inbox"]}, "cannot mute inbox"),
        ({"locale": "en", "muted_channels": ["pager"]}, "muted_channels"),
        ({"locale": "fr", "muted_channels": []}, "locale"),
    ]:
        refused = api.put("/api/me/preferences", json=bad, headers=headers)
        assert refused.status_code == 422 and problem in refused.text, refused.text
    assert api.get("/api/me/preferences", headers=headers).json() == saved.json()
    with api_sessions() as session:
        row = session.get(User, student.id)
        assert row is not None and (row.locale, row.muted_channels) == ("en", ["sms", "email"])


def test_binding_wechat_needs_a_login_code_and_wechat_answering(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    headers = auth(api, make_user(api_sessions, Role.STUDENT))
    assert api.put("/api/me/wechat", json={"code": "bad code!"}, headers=headers).status_code == 422
    # WeChat (the sandbox in dev mode) is not running in this module: nothing is stored.
    unreachable = api.put("/api/me/wechat", json={"code": "071Xy1ll2"}, headers=headers)
    assert unreachable.status_code == 503
    assert api.delete("/api/me/wechat", headers=headers).json() == {"bound": False}
