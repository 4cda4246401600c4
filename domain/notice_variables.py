"""Which variables a notice template may use, per event, and sample values to preview them with.

Complaint notices have their own case variables (the complaint workflow fills them).

The workflow fills the variables (RefundWorkflow._notice_context plus each event's extras); a test
holds the two together. Admins' edited templates are checked against this list on save, so a typo
is a 422 at the desk, not a failed notice at night.
"""

from __future__ import annotations

from typing import Any

from domain.notifications import COMPLAINT_EVENTS, NoticeEvent

# In every refund notice; `support` and `locale` come from the renderer.
REFUND_VARIABLES = frozenset(
    {
        "refund_id",
        "order_id",
        "student_name",
        "course_name",
        "course_type",
        "status",
        "reason",
        "requested_at",
        "amount_paid_fen",
        "requested_fen",
        "fee_fen",
        "refund_amount_fen",
        "gateway",
        "decision_reason",
        "payout_reference",
    }
)
# In every complaint notice.
COMPLAINT_VARIABLES = frozenset(
    {
        "complaint_id",
        "student_name",
        "category_label",  # e.g. 技术问题 / technical
        "severity",
        "summary",  # the student's words, shortened
        "received_at",
        "department_label",
        "first_response_due_at",
        "resolution_due_at",
        "status",
    }
)
RENDERER_VARIABLES = frozenset({"support", "locale"})

_APPROVED = frozenset({"expected_arrival"})
# What a compensation is: kind is "coupon" or "progress_reset"; the reference is the coupon code.
_COMPENSATION = frozenset(
    {
        "compensation_id",
        "compensation_kind",
        "compensation_amount_fen",
        "compensation_reference",
        "compensation_reason",
        "course_name",
    }
)
EVENT_VARIABLES: dict[NoticeEvent, frozenset[str]] = {
    NoticeEvent.REFUND_RECEIVED: frozenset(),
    NoticeEvent.REFUND_REJECTED: frozenset(),
    NoticeEvent.REFUND_APPROVED: _APPROVED,
    NoticeEvent.REFUND_MANAGER_CALL: _APPROVED,
    NoticeEvent.REFUND_DELAYED: _APPROVED,
    NoticeEvent.REFUND_REVIEW_LATE: frozenset(),
    NoticeEvent.REFUND_SUCCEEDED: _APPROVED | {"refunded_at"},
    NoticeEvent.REVIEW_REMINDER: frozenset({"staff_name", "review_due_at"}),
    NoticeEvent.REVIEW_ESCALATED: frozenset({"staff_name", "review_due_at"}),
    NoticeEvent.TEAM_REVIEW_OVERDUE: frozenset({"review_due_at", "lead_name"}),
    NoticeEvent.TEAM_CALL_OVERDUE: _APPROVED | {"reminder_count"},
    NoticeEvent.TEAM_REFUND_STUCK: _APPROVED | {"finance_task_id", "gateway_detail", "reminder_count"},
    NoticeEvent.TEAM_REFUND_PAID: _APPROVED | {"refunded_at"},
    NoticeEvent.COMPLAINT_RECEIVED: frozenset(),
    NoticeEvent.COMPLAINT_FIRST_RESPONSE: frozenset({"agent_name", "reply_text"}),
    NoticeEvent.COMPLAINT_RESOLVED: frozenset({"agent_name", "resolution_summary", "resolved_at"}),
    NoticeEvent.COMPLAINT_FOLLOW_UP: frozenset({"resolution_summary", "survey_url"}),
    NoticeEvent.SLA_WARNING: frozenset({"staff_name", "deadline_label", "due_at"}),
    NoticeEvent.SLA_BREACHED: frozenset({"staff_name", "assignee_name", "deadline_label", "due_at"}),
    NoticeEvent.COMPLAINT_ESCALATED: frozenset({"staff_name", "escalated_by", "escalation_reason"}),
    NoticeEvent.COMPENSATION_GIVEN: _COMPENSATION,
    NoticeEvent.VIDEO_INVITATION: frozenset({"agent_name", "room_url", "starts_at", "invitation_note"}),
    NoticeEvent.COMPENSATION_APPROVAL: _COMPENSATION | {"staff_name", "offered_by", "quota_left_fen"},
}


def allowed_variables(event: NoticeEvent) -> frozenset[str]:
    case = COMPLAINT_VARIABLES if event in COMPLAINT_EVENTS else REFUND_VARIABLES
    return case | RENDERER_VARIABLES | EVENT_VARIABLES[event]


# Preview data: one student, one refund, every variable filled.
SAMPLE_CONTEXT: dict[str, Any] = {
    "refund_id": "RF20261123A1B2C3D4E5",
    "order_id": "O-20261120-0042",
    "student_name": "林小雨",
    "course_name": "数据分析系统正价课",
    "course_type": "regular",
    "status": "approved",
    "reason": "工作调动，没有时间上课",
    "requested_at": "2026-11-23T02:00:00+00:00",
    "amount_paid_fen": 299_900,
    "requested_fen": 299_900,
    "fee_fen": 29_990,
    "refund_amount_fen": 269_910,
    "gateway": "wechatpay",
    "decision_reason": "符合七天退款政策",
    "payout_reference": None,
    "expected_arrival": "2026-11-26",
    "refunded_at": "2026-11-24T03:15:00+00:00",
    "staff_name": "王审核",
    "review_due_at": "2026-11-25T02:00:00+00:00",
    "lead_name": "刘主管",
    "reminder_count": 1,
    "finance_task_id": "FT-RF20261123A1B2C3D4E5-1",
    "gateway_detail": "the gateway reported abnormal",
    "complaint_id": "CP20261123F00D42",
    "category_label": "技术问题",
    "severity": "high",
    "summary": "直播课一直卡顿，老师的声音断断续续",
    "received_at": "2026-11-23T11:05:00+00:00",
    "department_label": "技术支持",
    "first_response_due_at": "2026-11-23T11:15:00+00:00",
    "resolution_due_at": "2026-11-23T13:05:00+00:00",
    "agent_name": "陈客服",
    "reply_text": "您好，我们已定位到是您所在地区的线路波动，已为您切换到备用线路，请刷新页面后重试。",
    "resolution_summary": "已切换备用线路，并为您补发本节课回放",
    "resolved_at": "2026-11-23T12:10:00+00:00",
    "survey_url": "https://school.example/survey/CP20261123F00D42",
    "assignee_name": "陈客服",
    "deadline_label": "首次响应",
    "escalated_by": "陈客服",
    "escalation_reason": "学员情绪激动，要求主管处理",
    "due_at": "2026-11-23T11:15:00+00:00",
    "compensation_id": "CM-CP20261123F00D42-1",
    "compensation_kind": "coupon",
    "compensation_amount_fen": 3_000,
    "compensation_reference": "CPN-7A1C0E5B92",
    "compensation_reason": "直播卡顿影响上课，补偿优惠券",
    "offered_by": "陈客服",
    "quota_left_fen": 2_000,
    "room_url": "https://meet.school.example/aftercare-5f0c2a9e41b7d3c86a1e9f02",
    "starts_at": "2026-11-23T12:00:00+00:00",
    "invitation_note": "请准备好出现卡顿的设备，我们一起排查",
}


def sample_context(event: NoticeEvent) -> dict[str, Any]:
    allowed = allowed_variables(event)
    return {name: value for name, value in SAMPLE_CONTEXT.items() if name in allowed}
