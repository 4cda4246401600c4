"""The student's complaint page with the workflow running: a message sent again with the key its
form carried (after a 503, say) is added once; a new showing of the page is a new message."""

from __future__ import annotations

from db.models import User
from domain.roles import Role
from tests.api.complaint_stack import ComplaintStack, eventually, login, stage_of
from tests.api.test_console_pages import action_keys
from tests.factories import PASSWORD, make_user


async def sign_in_to_pages(stack: ComplaintStack, user: User) -> dict[str, str]:
    """Signs the stack's client in by the login form (a cookie); the Origin its forms must send."""
    ours = {"origin": str(stack.api.base_url).rstrip("/")}
    signed = await stack.api.post(
        "/login", data={"email": user.email, "password": PASSWORD, "next": "/"}, headers=ours
    )
    assert signed.status_code in (200, 303), signed.text
    return ours


async def test_a_message_sent_again_with_its_key_is_added_once(stack: ComplaintStack) -> None:
    student = make_user(stack.sessions, Role.STUDENT)
    filed = await stack.api.post(
        "/api/complaints", headers=await login(stack.api, student), json={"text": "直播课的回放一直打不开"}
    )
    assert filed.status_code == 202, filed.text
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_of(stack, complaint_id) == "assigned", "assignment")
    ours = await sign_in_to_pages(stack, student)
    page = f"/my/complaints/{complaint_id}"

    def replies() -> list[str]:
        return [step.note for step in stack.steps_of(complaint_id) if step.event == "customer.replied"]

    try:
        key = action_keys((await stack.api.get(page)).text)[0]
        sent = {"text": "换了浏览器也打不开", "idempotency_key": key}
        for _ in range(2):
            answer = await stack.api.post(f"{page}/messages", data=sent, headers=ours)
            assert answer.status_code == 303 and answer.headers["location"] == page, answer.text
        assert replies() == ["换了浏览器也打不开"]
        fresh_key = action_keys((await stack.api.get(page)).text)[0]
        assert fresh_key != key
        again = await stack.api.post(
            f"{page}/messages", data={**sent, "idempotency_key": fresh_key}, headers=ours
        )
        assert again.status_code == 303
        assert replies() == ["换了浏览器也打不开"] * 2
    finally:
        stack.api.cookies.clear()


async def test_the_complaint_form_sent_twice_files_one_complaint(stack: ComplaintStack) -> None:
    student = make_user(stack.sessions, Role.STUDENT)
    ours = await sign_in_to_pages(stack, student)
    try:
        key = action_keys((await stack.api.get("/my/complaints/new")).text)[0]
        sent = {"text": "直播课的声音和画面对不上", "order_id": "", "idempotency_key": key}
        answers = [await stack.api.post("/my/complaints/new", data=sent, headers=ours) for _ in range(2)]
        assert [answer.status_code for answer in answers] == [303, 303], answers[0].text
        [complaint] = stack.complaints_of(student.id)
        assert {answer.headers["location"] for answer in answers} == {f"/my/complaints/{complaint.id}"}
        await eventually(lambda: stage_of(stack, complaint.id) == "assigned", "assignment")
        fresh_key = action_keys((await stack.api.get("/my/complaints/new")).text)[0]
        another = await stack.api.post(
            "/my/complaints/new", data={**sent, "idempotency_key": fresh_key}, headers=ours
        )
        assert another.status_code == 303 and len(stack.complaints_of(student.id)) == 2
    finally:
        stack.api.cookies.clear()
