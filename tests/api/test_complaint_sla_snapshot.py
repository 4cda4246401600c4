"""An edit of the SLA table with complaints that really run: a complaint filed after it is judged by
the new terms (its workflow input carries them, its deadlines and department follow them, a WeChat
sender is promised them), while one filed before keeps the terms it was filed under."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from db.models import Complaint
from domain.complaints import ComplaintCategory, ComplaintRequest, Department, SlaTerms
from domain.roles import Role
from tests.api.complaint_stack import ComplaintStack, eventually, login, stage_of
from tests.api.test_intake_wechat import new_openid, push, reply_of, text_message
from tests.factories import make_user

TECHNICAL_TEXT = "直播课一直卡顿，画面黑屏"
SLOWER = SlaTerms(
    first_response_minutes=45,
    resolution_minutes=300,
    department=Department.ACADEMIC,
    business_hours_only=False,
)


async def _file(stack: ComplaintStack, student_headers: dict[str, str]) -> Complaint:
    filed = await stack.api.post("/api/complaints", headers=student_headers, json={"text": TECHNICAL_TEXT})
    assert filed.status_code == 202, filed.text
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_of(stack, complaint_id) == "assigned", "assignment")
    with stack.sessions() as session:
        complaint = session.get(Complaint, complaint_id)
    assert complaint is not None
    return complaint


async def _workflow_input(env: WorkflowEnvironment, complaint: Complaint) -> ComplaintRequest:
    history = await env.client.get_workflow_handle(complaint.workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [request] = await env.client.data_converter.decode(started.input.payloads, [ComplaintRequest])
    return request


async def test_a_complaint_filed_after_an_edit_is_judged_by_the_new_terms_and_an_earlier_one_keeps_its_own(
    stack: ComplaintStack, temporal_test_env: WorkflowEnvironment
) -> None:
    student = await login(stack.api, make_user(stack.sessions, Role.STUDENT))
    admin = await login(stack.api, make_user(stack.sessions, Role.ADMIN))
    before_edit = await _file(stack, student)

    edited = await stack.api.put(
        "/api/complaints/sla/technical", headers=admin, json=SLOWER.model_dump(mode="json")
    )
    assert edited.status_code == 200, edited.text
    after_edit = await _file(stack, student)

    assert (await _workflow_input(temporal_test_env, after_edit)).sla[ComplaintCategory.TECHNICAL] == SLOWER
    assert after_edit.category == "technical" and after_edit.department == "academic"
    assert after_edit.first_response_due_at == after_edit.received_at + timedelta(minutes=45)
    assert after_edit.resolution_due_at == after_edit.received_at + timedelta(minutes=300)

    earlier = (await _workflow_input(temporal_test_env, before_edit)).sla[ComplaintCategory.TECHNICAL]
    assert (earlier.first_response_minutes, earlier.department) == (10, Department.TECH_SUPPORT)
    with stack.sessions() as session:
        kept = session.get(Complaint, before_edit.id)
    assert kept is not None and kept.department == "tech_support"
    assert kept.first_response_due_at == kept.received_at + timedelta(minutes=10)

    # Every channel files through the same place: a WeChat sender is promised the new first response.
    answered = reply_of(await push(stack, text_message(new_openid(), TECHNICAL_TEXT, 24_100_000_000_000_001)))
    assert "45 分钟内" in answered["Content"], answered["Content"]
