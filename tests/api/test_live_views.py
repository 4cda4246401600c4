"""A case's live view: the API asks the workflow itself (its `status` and `timeline` queries) — staff
only, and a clear 503 when Temporal cannot answer (the stored detail is still there)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from domain import search_attributes
from domain.courses import CourseType
from domain.roles import Role
from tests.api.complaint_stack import ComplaintStack, eventually, login, stage_of
from tests.api.helpers import auth
from tests.factories import make_complaint, make_order, make_refund, make_user


async def test_staff_follow_a_running_complaint_through_its_workflow(
    stack: ComplaintStack, temporal_test_env: WorkflowEnvironment
) -> None:
    student = make_user(stack.sessions, Role.STUDENT)
    order = make_order(stack.sessions, student, course_type=CourseType.PREMIUM)
    filed = await stack.api.post(
        "/api/complaints",
        headers=await login(stack.api, student),
        json={"text": "直播课一直卡顿，老师的声音断断续续", "order_id": order.id},
    )
    assert filed.status_code == 202, filed.text
    complaint_id = filed.json()["complaint_id"]
    await eventually(lambda: stage_of(stack, complaint_id) == "assigned", "assignment")

    agent = await login(stack.api, make_user(stack.sessions, Role.AGENT))
    live = await stack.api.get(f"/api/complaints/{complaint_id}/live", headers=agent)
    assert live.status_code == 200, live.text
    progress = live.json()["progress"]
    assert (progress["stage"], progress["category"], progress["department"]) == (
        "assigned",
        "technical",
        "tech_support",
    )
    assert progress["details"].startswith("Technical complaint, high, with ")
    assert "first response due" in progress["details"]
    assert [step["event"] for step in live.json()["timeline"]] == [
        "complaint.received",
        "complaint.triaged",
        "complaint.assigned",
    ]
    # The course the complaint is about is in its memo and search attributes from the start.
    description = await temporal_test_env.client.get_workflow_handle(f"complaint-{complaint_id}").describe()
    assert description.typed_search_attributes.get(search_attributes.COURSE_TYPE) == "premium"
    assert await description.memo_value("student_name") == student.display_name

    own = await stack.api.get(f"/api/complaints/{complaint_id}/live", headers=await login(stack.api, student))
    assert own.status_code == 403  # a student reads the stored detail, without internal steps
    assert (await stack.api.get("/api/complaints/CP-NOPE/live", headers=agent)).status_code == 404


def test_without_temporal_the_live_view_is_503_and_refusals_need_no_temporal(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    refund = make_refund(api_sessions, make_order(api_sessions, student), status="awaiting_review")
    complaint = make_complaint(api_sessions, student)
    lead = auth(api, make_user(api_sessions, Role.LEAD))
    refund_live = api.get(f"/api/refunds/{refund.id}/live", headers=lead)
    assert refund_live.status_code == 503 and "unavailable" in refund_live.json()["detail"]
    assert api.get(f"/api/complaints/{complaint.id}/live", headers=lead).status_code == 503
    assert api.get(f"/api/refunds/{refund.id}", headers=lead).status_code == 200  # stored detail stays
    assert api.get(f"/api/refunds/{refund.id}/live", headers=auth(api, student)).status_code == 403
    assert api.get("/api/refunds/RF-NOPE/live", headers=lead).status_code == 404
