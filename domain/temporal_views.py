"""What a support lead reads of a workflow in the Temporal Web UI: the one-line summary and details
set at start, the memo, and the current details — a sentence saying what the workflow waits for
now, set at every change ("Awaiting review by 李老师 (group regular-courses), due 12-03 14:30").

Pure functions, so the API (which starts workflows) and the workflows (which keep the sentence
current) say the same thing, and tests read the words without a server. Times are Beijing time,
as the staff read them; the words are English, as the rest of the Temporal UI is.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain import search_attributes
from domain.complaints import CATEGORY_LABELS, DEPARTMENT_LABELS, ComplaintStage
from domain.money import format_yuan
from domain.sla_events import FIRST_RESPONSE, RESOLUTION
from domain.timeutil import SHANGHAI, as_utc

if TYPE_CHECKING:
    from domain.complaints import ComplaintRequest, Department, Severity
    from domain.refunds import RefundRequest

GATEWAY_NAMES = {"wechatpay": "WeChat Pay", "alipay": "Alipay"}
CHANNEL_NAMES = {
    "web_form": "the web form",
    "phone": "phone",
    "email": "email",
    "wechat": "WeChat",
    "live_chat": "live chat",
}


def beijing(moment: datetime) -> str:
    """'12-03 14:30 Beijing' — short enough for a sentence, unambiguous for a person in China."""
    return as_utc(moment).astimezone(SHANGHAI).strftime("%m-%d %H:%M Beijing")


def _gateway(name: str) -> str:
    return GATEWAY_NAMES.get(name, name)


# --- at start: summary, details, memo ---------------------------------------------------------------


def refund_summary(request: RefundRequest) -> str:
    """One line for the Temporal UI's list of workflows."""
    return (
        f"Refund {format_yuan(request.refund_amount_fen)} of {request.course.name} for {request.student.name}"
    )


def refund_details(request: RefundRequest) -> str:
    return (
        f"Order {request.order_id} ({request.course.type.value} course), paid "
        f"{format_yuan(request.amount_paid_fen)} via {_gateway(request.gateway.value)}. "
        f"Reason: {request.reason}"
    )


def refund_memo(request: RefundRequest) -> dict[str, Any]:
    """Names a person recognises, beside the ids the search attributes carry."""
    return {
        "refund_id": request.refund_id,
        "student_name": request.student.name,
        "course_name": request.course.name,
    }


def complaint_summary(request: ComplaintRequest) -> str:
    about = f" about {request.course.name}" if request.course else ""
    channel = CHANNEL_NAMES.get(request.channel.value, request.channel.value)
    return f"Complaint from {request.student.name}{about} by {channel}"


def complaint_details(request: ComplaintRequest) -> str:
    text = request.text if len(request.text) <= 500 else request.text[:499] + "…"
    order = f"Order {request.order_id}. " if request.order_id else ""
    return f"{order}The student wrote: {text}"


def complaint_memo(request: ComplaintRequest) -> dict[str, Any]:
    memo: dict[str, Any] = {"complaint_id": request.complaint_id, "student_name": request.student.name}
    if request.course is not None:
        memo["course_name"] = request.course.name
    return memo


# --- a refund, as it goes ----------------------------------------------------------------------------


def refund_routing() -> str:
    return "Received; checking the policy and routing it to a reviewer."


def refund_awaiting_review(*, group: str, reviewer: str | None, due: datetime) -> str:
    who = f"{reviewer} (group {group})" if reviewer else f"group {group} (nobody in it yet)"
    return f"Awaiting review by {who}, due {beijing(due)}."


def refund_review_overdue(*, group: str, lead: str | None, due: datetime) -> str:
    to = f"lead {lead}" if lead else "a lead (none in the group)"
    return f"**Review overdue** since {beijing(due)}: escalated to {to} of group {group}."


def refund_awaiting_call(*, reminders: int) -> str:
    reminded = f" Staff chat reminded {reminders}×." if reminders else ""
    return (
        "Approved; waiting for the account manager's call to the student before any money moves." + reminded
    )


def refund_paying(*, amount_fen: int, gateway: str) -> str:
    return f"Approved; asking {_gateway(gateway)} to refund {format_yuan(amount_fen)}."


def refund_awaiting_callback(
    *, amount_fen: int, gateway: str, overdue_at: datetime, next_check: datetime
) -> str:
    return (
        f"{_gateway(gateway)} took the refund of {format_yuan(amount_fen)}; waiting for its callback "
        f"(overdue at {beijing(overdue_at)}; asking {_gateway(gateway)} itself at {beijing(next_check)})."
    )


def refund_with_finance(*, task_id: str, problem: str) -> str:
    return f"**Stuck at the gateway** ({problem}): finance task {task_id} is open for finance to settle."


def refund_refunded(*, amount_fen: int, gateway: str, at: datetime, offline_reference: str | None) -> str:
    how = f"by transfer (reference {offline_reference})" if offline_reference else f"via {_gateway(gateway)}"
    return f"Refunded {format_yuan(amount_fen)} {how} at {beijing(at)}."


def refund_rejected(*, by: str, reason: str) -> str:
    return f"Rejected by {by}: {reason}" if reason else f"Rejected by {by}."


def refund_withdrawn(*, note: str) -> str:
    return (
        f"Withdrawn after the account manager's call: {note}"
        if note
        else "Withdrawn after the manager's call."
    )


# --- a complaint, as it goes -------------------------------------------------------------------------


def complaint_now(
    *,
    stage: ComplaintStage,
    channel: str,
    category: str | None,
    severity: Severity,
    department: Department | None,
    assignee: str | None,
    first_responded: bool,
    first_response_due: datetime | None,
    resolution_due: datetime | None,
    sla_breached: bool,
    overdue: Collection[str] = (),
    paused_since: datetime | None,
) -> str:
    """Where a complaint stands and the next deadline that matters; `overdue` names the clocks
    ("first_response", "resolution") whose deadline has passed."""
    if stage is ComplaintStage.RECEIVED or category is None:
        return f"Received by {CHANNEL_NAMES.get(channel, channel)}; being triaged."
    breached = "**SLA breached.** " if sla_breached else ""
    if stage is ComplaintStage.ARCHIVED:
        return "Archived."
    if stage is ComplaintStage.RESOLVED:
        return f"{breached}Resolved; the follow-up visit comes next."
    if stage is ComplaintStage.FOLLOW_UP:
        return f"{breached}Resolved; waiting for the student's follow-up survey."
    where = DEPARTMENT_LABELS["en"][department.value] if department else "no department"
    with_whom = f"{assignee} in {where}" if assignee else f"the {where} queue"
    kind = CATEGORY_LABELS["en"].get(category, category).capitalize()
    opening = f"{breached}{kind} complaint, {severity.value}, with {with_whom}"
    if paused_since is not None:
        return f"{opening}; waiting for the student's answer since {beijing(paused_since)} (clock paused)."
    if not first_responded and first_response_due is not None:
        return f"{opening}; {_deadline('first response', first_response_due, FIRST_RESPONSE in overdue)}."
    if resolution_due is not None:
        return f"{opening}; {_deadline('resolution', resolution_due, RESOLUTION in overdue)}."
    return f"{opening}."


def _deadline(label: str, due: datetime, passed: bool) -> str:
    return f"{label} overdue since {beijing(due)}" if passed else f"{label} due {beijing(due)}"


# --- how a workflow is started: the same from the API and from a complaint's child refund ------------


def refund_start_options(request: RefundRequest) -> dict[str, Any]:
    """Keyword arguments for `start_workflow` / `start_child_workflow` of a refund."""
    return {
        "search_attributes": search_attributes.refund_start_attributes(request),
        "static_summary": refund_summary(request),
        "static_details": refund_details(request),
        "memo": refund_memo(request),
    }


def complaint_start_options(request: ComplaintRequest) -> dict[str, Any]:
    return {
        "search_attributes": search_attributes.complaint_start_attributes(request),
        "static_summary": complaint_summary(request),
        "static_details": complaint_details(request),
        "memo": complaint_memo(request),
    }
