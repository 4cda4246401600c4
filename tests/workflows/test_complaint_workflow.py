"""ComplaintWorkflow on the time-skipping server: the SOP stages, both SLA clocks with their 80%
warnings and breaches, the follow-up survey and reopening — activities replaced by fakes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import search_attributes
from domain.calendar import add_business_time
from domain.complaints import (
    DEFAULT_SLA,
    AgentNote,
    AgentReply,
    ComplaintCategory,
    ComplaintReceipt,
    ComplaintRequest,
    ComplaintResolution,
    ComplaintStage,
    ComplaintState,
    CustomerMessage,
    Department,
    Escalation,
    IntakeChannel,
    Reopening,
    ResolutionCode,
    Severity,
    SurveyAnswer,
    Transfer,
)
from domain.notifications import Channel, NoticeEvent
from domain.refunds import StudentSnapshot
from domain.timeutil import SHANGHAI
from tests.temporal_env import activity_priorities, raw_description, start_time_skipping
from tests.workflows.refund_fakes import TASK_QUEUE, FakeActivities, notices_of
from workflows.complaint import ComplaintWorkflow


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test here: these tests leave complaints with long timers (a
    follow-up days away) that, once terminated, could stall time skipping for the next test."""
    async with await start_time_skipping() as environment:
        yield environment


TECHNICAL = "直播课一直卡顿，老师的声音断断续续"
CONTENT = "第三章的知识点没听懂，作业批改也看不明白"


def complaint(
    text: str = TECHNICAL, channel: IntakeChannel = IntakeChannel.WEB_FORM, **extra
) -> ComplaintRequest:
    complaint_id = f"CPTEST{uuid.uuid4().hex[:10].upper()}"
    return ComplaintRequest(
        complaint_id=complaint_id,
        student=StudentSnapshot(id="S1", name="林小雨", email="student@example.test", phone="13800138000"),
        channel=channel,
        text=text,
        received_at=datetime.now(UTC),  # replaced by the server's clock in start()
        logged_by="S1",
        survey_url=f"https://school.example/survey/{complaint_id}",
        sms_quiet_hours=None,
        **extra,
    )


async def start(env: WorkflowEnvironment, request: ComplaintRequest) -> WorkflowHandle:
    request = request.model_copy(update={"received_at": await env.get_current_time()})
    handle = await env.client.start_workflow(
        ComplaintWorkflow.run, request, id=f"complaint-{request.complaint_id}", task_queue=TASK_QUEUE
    )
    await stage_is(handle, ComplaintStage.ASSIGNED)
    return handle


async def stage_is(handle: WorkflowHandle, stage: ComplaintStage) -> ComplaintState:
    for _ in range(200):
        state: ComplaintState = await handle.query(ComplaintWorkflow.state)
        if state.stage is stage:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {stage}, stuck at {state.stage}")


async def stop(handle: WorkflowHandle) -> None:
    """End a test's complaint once no activity is in flight: the time-skipping server stops
    skipping time for activities a terminated workflow left running."""
    for _ in range(200):
        if not (await raw_description(handle)).pending_activities:
            break
        await asyncio.sleep(0.05)
    await handle.terminate("test done")


def reply(text: str = "您好，已为您切换线路，请刷新重试。") -> AgentReply:
    return AgentReply(text=text, agent_id="U-AGENT", agent_name="陈客服")


def resolution() -> ComplaintResolution:
    return ComplaintResolution(
        code=ResolutionCode.FIXED, summary="已切换备用线路并补发回放", agent_id="U-AGENT", agent_name="陈客服"
    )


def events(fakes: FakeActivities) -> list[str]:
    return [step.event for step in fakes.complaint_events]


async def test_a_complaint_is_triaged_routed_answered_resolved_surveyed_and_archived(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = complaint()
    handle = await start(env, request)
    state: ComplaintState = await handle.query(ComplaintWorkflow.state)
    assert (state.category, state.severity, state.department, state.assigned_to) == (
        ComplaintCategory.TECHNICAL,
        Severity.HIGH,  # "一直"
        Department.TECH_SUPPORT,
        "U-AGENT",
    )
    assert state.first_response_due_at - request.received_at <= timedelta(minutes=10, seconds=5)
    await notices_of(fakes, "complaint_received", 3)  # inbox, email, SMS
    received = [n for n in fakes.notices if n.event is NoticeEvent.COMPLAINT_RECEIVED]
    assert {n.channel for n in received} == {Channel.INBOX, Channel.EMAIL, Channel.SMS}
    assert received[0].context["first_response_due_at"] == state.first_response_due_at.isoformat()

    await handle.execute_update(
        ComplaintWorkflow.add_note, AgentNote(text="疑似华东线路问题", agent_id="U-AGENT")
    )
    answered = await handle.execute_update(ComplaintWorkflow.respond, reply())
    assert answered.stage is ComplaintStage.IN_PROGRESS
    done = await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    assert done.stage is ComplaintStage.RESOLVED
    with pytest.raises(WorkflowUpdateFailedError):  # a resolved complaint takes no more replies
        await handle.execute_update(ComplaintWorkflow.respond, reply("再补充一句"))

    await env.sleep(timedelta(hours=72, minutes=1))  # the follow-up visit
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    [survey] = [
        n for n in fakes.notices if n.event is NoticeEvent.COMPLAINT_FOLLOW_UP and n.channel is Channel.INBOX
    ]
    assert survey.context["survey_url"] == request.survey_url
    receipt = await handle.execute_update(
        ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=True, comment="很及时")
    )
    assert receipt.stage is ComplaintStage.ARCHIVED
    final: ComplaintState = await handle.result()
    assert final.stage is ComplaintStage.ARCHIVED and not final.sla_breached
    assert events(fakes) == [
        "complaint.received",
        "complaint.triaged",
        "complaint.assigned",
        "agent.note",
        "agent.replied",
        "complaint.resolved",
        "complaint.follow_up",
        "survey.answered",
        "complaint.archived",
    ]
    assert not [e for e in events(fakes) if e.startswith("sla.")]
    assert sorted(e.type.value for e in fakes.published) == [
        "complaint.archived",
        "complaint.assigned",
        "complaint.first_response",
        "complaint.received",
        "complaint.resolved",
    ]


@pytest.mark.parametrize(
    ("text", "warn_at", "breach_at"),
    [
        (TECHNICAL, timedelta(minutes=8), timedelta(minutes=10)),
        (CONTENT, timedelta(minutes=24), timedelta(minutes=30)),
    ],
    ids=["technical", "course_content"],
)
async def test_an_unanswered_complaint_is_warned_at_80_percent_and_escalated_at_the_deadline(
    env: WorkflowEnvironment,
    worker: Worker,
    fakes: FakeActivities,
    text: str,
    warn_at: timedelta,
    breach_at: timedelta,
) -> None:
    handle = await start(env, complaint(text))
    start_time = await env.get_current_time()
    await env.sleep(warn_at - timedelta(seconds=20))
    assert "sla.first_response.warning" not in events(fakes)
    await env.sleep(timedelta(seconds=40))
    assert "sla.first_response.warning" in events(fakes)
    [warning] = [n for n in fakes.notices if n.event is NoticeEvent.SLA_WARNING]
    assert (warning.recipient.user_id, warning.channel) == ("U-AGENT", Channel.INBOX)
    assert "sla.first_response.breached" not in events(fakes)

    await env.sleep(breach_at - warn_at)
    breached = next(s for s in fakes.complaint_events if s.event == "sla.first_response.breached")
    due = (await handle.query(ComplaintWorkflow.state)).first_response_due_at
    assert due - start_time <= breach_at  # the deadline counts from when the complaint arrived
    assert due <= breached.at < due + timedelta(seconds=30)  # breached exactly at the deadline
    assert breached.sla_breached is True
    to_lead = [n for n in fakes.notices if n.event is NoticeEvent.SLA_BREACHED]
    assert {(n.recipient.user_id, n.channel) for n in to_lead} == {
        ("U-LEAD", Channel.INBOX),
        ("team", Channel.STAFF_CHAT),
    }
    state: ComplaintState = await handle.query(ComplaintWorkflow.state)
    raised = {TECHNICAL: Severity.URGENT, CONTENT: Severity.HIGH}[text]  # high → urgent, normal → high
    assert state.sla_breached and state.severity is raised
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.SLA_BREACHED) is True
    # The warning, the breach and the staff's notices of them go ahead of other queued work.
    priorities = await activity_priorities(handle)
    deadline_work = {
        "Record sla.first_response.warning",
        "sla_warning by inbox",
        "Record sla.first_response.breached",
        "sla_breached by inbox",
        "sla_breached by staff_chat",
    }
    assert {summary: priorities[summary] for summary in deadline_work} == {key: {1} for key in deadline_work}
    # Its first step waits behind complaints already under way (INTAKE_PRIORITY); the rest do not.
    intake = {"Record complaint.received"}
    assert {summary: priorities[summary] for summary in intake} == {key: {4} for key in intake}
    ordinary = priorities.keys() - deadline_work - intake
    assert {summary: priorities[summary] for summary in ordinary} == {key: {0} for key in ordinary}
    await stop(handle)


async def test_an_answer_in_time_stops_the_first_response_clock_but_not_the_resolution_clock(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    await env.sleep(timedelta(minutes=5))
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    await env.sleep(timedelta(minutes=100))  # 105 min in: past 80% of the 2-hour resolution time
    assert events(fakes)[-1] == "sla.resolution.warning"
    assert not [e for e in events(fakes) if e.startswith("sla.first_response")]
    await env.sleep(timedelta(minutes=16))
    assert "sla.resolution.breached" in events(fakes)
    await stop(handle)


async def test_an_unsatisfied_student_reopens_it_and_the_resolution_clock_restarts(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await env.sleep(timedelta(hours=72, minutes=1))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    receipt = await handle.execute_update(
        ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=False, comment="今天上课还是卡")
    )
    assert receipt.stage is ComplaintStage.IN_PROGRESS
    reopened = next(s for s in fakes.complaint_events if s.event == "complaint.reopened")
    assert (reopened.actor, reopened.note) == ("S1", "今天上课还是卡")
    state: ComplaintState = await handle.query(ComplaintWorkflow.state)
    assert state.resolution_due_at - reopened.at == timedelta(hours=2)

    # An agent may reopen too, after the next resolution; then it is resolved for good.
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await handle.execute_update(
        ComplaintWorkflow.reopen, Reopening(reason="学员来电说仍有问题", by="U-AGENT")
    )
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(ComplaintWorkflow.reopen, Reopening(reason="again", by="U-AGENT"))
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await env.sleep(timedelta(hours=72, minutes=1))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    await env.sleep(timedelta(days=7, minutes=1))  # no answer: archived all the same
    final: ComplaintState = await handle.result()
    assert final.stage is ComplaintStage.ARCHIVED
    assert events(fakes).count("complaint.reopened") == 2 and "survey.unanswered" in events(fakes)


async def test_a_survey_answer_is_refused_before_it_is_asked_for(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=True))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(ComplaintWorkflow.reopen, Reopening(reason="x", by="U-AGENT"))
    await stop(handle)


async def test_asking_the_student_pauses_the_resolution_clock_until_they_answer(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint())
    before: ComplaintState = await handle.query(ComplaintWorkflow.state)
    await env.sleep(timedelta(minutes=5))
    asked = await handle.execute_update(
        ComplaintWorkflow.ask_customer, reply("请问您用的是手机还是电脑？方便发一张截图吗？")
    )
    assert asked.stage is ComplaintStage.AWAITING_CUSTOMER
    # Asking is a reply the student sees: the first-response clock stops.
    await env.sleep(timedelta(hours=5))  # the student answers the next morning: the clock stood still
    assert not [e for e in events(fakes) if e.startswith("sla.")]
    answered = await handle.execute_update(
        ComplaintWorkflow.customer_message, CustomerMessage(text="电脑，Chrome 浏览器，截图已上传")
    )
    assert answered.stage is ComplaintStage.IN_PROGRESS
    after: ComplaintState = await handle.query(ComplaintWorkflow.state)
    moved = after.resolution_due_at - before.resolution_due_at
    assert timedelta(hours=5) <= moved < timedelta(hours=5, minutes=1)  # the paused time, added on
    resumed = next(s for s in fakes.complaint_events if s.event == "customer.replied")
    assert resumed.resolution_due_at == after.resolution_due_at
    # The remaining 115 minutes run again: warned at 96 (80% of 120), breached at 115.
    await env.sleep(timedelta(minutes=92))
    assert "sla.resolution.warning" in events(fakes)
    assert "sla.resolution.breached" not in events(fakes)
    await env.sleep(timedelta(minutes=25))
    assert "sla.resolution.breached" in events(fakes)
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    with pytest.raises(WorkflowUpdateFailedError):  # resolved: new words go through a reopening
        await handle.execute_update(ComplaintWorkflow.customer_message, CustomerMessage(text="还有一个问题"))
    await env.sleep(timedelta(hours=72, minutes=1))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    await handle.execute_update(ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=True))
    assert (await handle.result()).stage is ComplaintStage.ARCHIVED


async def test_a_service_complaint_is_answered_within_an_hour_or_escalated(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint("申请的发票两周了还没开出来"))
    state: ComplaintState = await handle.query(ComplaintWorkflow.state)
    assert (state.category, state.department) == (ComplaintCategory.SERVICE_FEES, Department.CUSTOMER_SERVICE)
    await env.sleep(timedelta(minutes=47))
    assert "sla.first_response.warning" not in events(fakes)
    await env.sleep(timedelta(minutes=2))  # 49 > 48 = 80% of 60
    assert "sla.first_response.warning" in events(fakes)
    await env.sleep(timedelta(minutes=12))
    assert "sla.first_response.breached" in events(fakes)
    await stop(handle)


async def test_an_sla_in_business_hours_waits_over_the_weekend(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    # To a Friday 17:55 in Beijing: ten working minutes are five today and five on Monday morning.
    now = (await env.get_current_time()).astimezone(SHANGHAI)
    days_to_friday = (4 - now.weekday()) % 7 or 7
    friday = (now + timedelta(days=days_to_friday)).replace(hour=17, minute=55, second=0, microsecond=0)
    await env.sleep(friday - now)
    sla = {
        category: terms.model_copy(update={"business_hours_only": True})
        for category, terms in DEFAULT_SLA.items()
    }
    handle = await start(env, complaint(sla=sla))
    state: ComplaintState = await handle.query(ComplaintWorkflow.state)
    due = state.first_response_due_at.astimezone(SHANGHAI)
    expected = add_business_time(friday, timedelta(minutes=10))
    assert abs(due - expected) < timedelta(seconds=5) and due.hour == 9 and due.weekday() < 5
    await env.sleep(timedelta(hours=3))  # Friday night: nothing, the clock is off
    assert not [e for e in events(fakes) if e.startswith("sla.")]
    await env.sleep(due - (await env.get_current_time()) + timedelta(seconds=30))
    assert "sla.first_response.breached" in events(fakes)
    await stop(handle)


async def test_a_complaint_moves_to_another_department_and_up_to_a_lead_with_its_clocks_running(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint("申请的发票两周了还没开出来"))
    before: ComplaintState = await handle.query(ComplaintWorkflow.state)
    with pytest.raises(WorkflowUpdateFailedError):  # it is with customer service already
        await handle.execute_update(
            ComplaintWorkflow.transfer,
            Transfer(department=Department.CUSTOMER_SERVICE, reason="x", by="U-AGENT"),
        )
    moved = Transfer(department=Department.ACADEMIC, reason="其实是课程资料的问题", by="U-AGENT")
    await handle.execute_update(ComplaintWorkflow.transfer, moved)
    after: ComplaintState = await handle.query(ComplaintWorkflow.state)
    assert after.department is Department.ACADEMIC
    assert after.first_response_due_at == before.first_response_due_at  # the student waited all along
    transferred = next(s for s in fakes.complaint_events if s.event == "complaint.transferred")
    assert (transferred.department, transferred.assigned_to, transferred.note) == (
        Department.ACADEMIC,
        "U-AGENT",
        "其实是课程资料的问题",
    )

    up = Escalation(reason="学员情绪激动，要求主管处理", by="U-AGENT", by_name="陈客服")
    await handle.execute_update(ComplaintWorkflow.escalate, up)
    escalated: ComplaintState = await handle.query(ComplaintWorkflow.state)
    assert (escalated.assigned_to, escalated.severity) == ("U-LEAD", Severity.HIGH)
    told = [n for n in fakes.notices if n.event is NoticeEvent.COMPLAINT_ESCALATED]
    assert {(n.recipient.user_id, n.channel) for n in told} == {
        ("U-LEAD", Channel.INBOX),
        ("team", Channel.STAFF_CHAT),
    }
    assert told[0].context["escalated_by"] == "陈客服"
    await stop(handle)


async def test_a_message_sent_while_the_complaint_is_triaged_is_kept_and_undoes_no_step(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    """On WeChat a second message often follows the first within seconds, before triage is done."""
    fakes.complaint_assign_gate = asyncio.Event()  # assignment waits until the message is in
    request = complaint().model_copy(update={"received_at": await env.get_current_time()})
    handle = await env.client.start_workflow(
        ComplaintWorkflow.run, request, id=f"complaint-{request.complaint_id}", task_queue=TASK_QUEUE
    )
    await stage_is(handle, ComplaintStage.TRIAGED)
    receipt = await handle.execute_update(
        ComplaintWorkflow.customer_message, CustomerMessage(text="是手机端")
    )
    assert receipt.stage is ComplaintStage.TRIAGED
    fakes.complaint_assign_gate.set()
    await stage_is(handle, ComplaintStage.ASSIGNED)
    assert events(fakes) == [
        "complaint.received",
        "complaint.triaged",
        "customer.replied",
        "complaint.assigned",
    ]
    assert [step.stage for step in fakes.complaint_events][-2:] == [
        ComplaintStage.TRIAGED,
        ComplaintStage.ASSIGNED,
    ]
    await stop(handle)


async def test_a_message_waiting_for_a_step_to_be_recorded_does_not_undo_it(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    """The stage a message is recorded with is read once the step before it is on record."""
    assigned = fakes.complaint_record_gates["complaint.assigned"] = asyncio.Event()
    request = complaint().model_copy(update={"received_at": await env.get_current_time()})
    handle = await env.client.start_workflow(
        ComplaintWorkflow.run, request, id=f"complaint-{request.complaint_id}", task_queue=TASK_QUEUE
    )
    await stage_is(handle, ComplaintStage.TRIAGED)  # recording "assigned" now waits on the gate
    message = await handle.start_update(
        ComplaintWorkflow.customer_message,
        CustomerMessage(text="是手机端"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,  # its handler is running, waiting its turn
    )
    assigned.set()
    receipt: ComplaintReceipt = await message.result()
    assert receipt.stage is ComplaintStage.ASSIGNED
    assert (await handle.query(ComplaintWorkflow.state)).stage is ComplaintStage.ASSIGNED
    assert events(fakes) == [
        "complaint.received",
        "complaint.triaged",
        "complaint.assigned",
        "customer.replied",
    ]
    await stop(handle)


WECHAT_ONLY = StudentSnapshot(
    id="S-WX", name="微信用户 a1b2c3", wechat_oa_openid="oAbC0123456789abcdef01234567"
)


def channels_of(fakes: FakeActivities, event: NoticeEvent) -> list[Channel]:
    return sorted(n.channel for n in fakes.notices if n.event is event)


async def test_a_customer_known_only_by_wechat_hears_the_reply_on_wechat_and_is_not_told_twice(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(
        env, complaint(channel=IntakeChannel.WECHAT).model_copy(update={"student": WECHAT_ONLY})
    )
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    [on_wechat] = [
        n for n in await notices_of(fakes, "complaint_first_response", 2) if n.channel is Channel.WECHAT_OA
    ]
    assert on_wechat.recipient.wechat_oa_openid == WECHAT_ONLY.wechat_oa_openid
    assert on_wechat.context["reply_text"] == reply().text
    assert channels_of(fakes, NoticeEvent.COMPLAINT_FIRST_RESPONSE) == [Channel.INBOX, Channel.WECHAT_OA]
    # The chat answered the message itself with the number and the promised time: no second "received".
    assert channels_of(fakes, NoticeEvent.COMPLAINT_RECEIVED) == [Channel.INBOX]
    await stop(handle)


async def test_a_call_logged_for_a_wechat_customer_is_acknowledged_on_wechat_unless_they_muted_it(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start(
        env, complaint(channel=IntakeChannel.PHONE).model_copy(update={"student": WECHAT_ONLY})
    )
    await notices_of(fakes, "complaint_received", 2)
    assert channels_of(fakes, NoticeEvent.COMPLAINT_RECEIVED) == [Channel.INBOX, Channel.WECHAT_OA]
    await stop(handle)

    fakes.notices.clear()
    muted = WECHAT_ONLY.model_copy(update={"muted_channels": [Channel.WECHAT_OA]})
    handle = await start(env, complaint(channel=IntakeChannel.PHONE).model_copy(update={"student": muted}))
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    await notices_of(fakes, "complaint_first_response", 1)
    assert channels_of(fakes, NoticeEvent.COMPLAINT_FIRST_RESPONSE) == [Channel.INBOX]
    assert channels_of(fakes, NoticeEvent.COMPLAINT_RECEIVED) == [Channel.INBOX]
    await stop(handle)
