"""The custom search attributes support leads filter by in the Temporal UI — the one place they are
declared. temporal-dev.yml registers the same set on the dev server; a test keeps the two in step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

if TYPE_CHECKING:
    from domain.complaints import ComplaintRequest
    from domain.refunds import RefundRequest

REFUND_STATUS = SearchAttributeKey.for_keyword("RefundStatus")
COMPLAINT_STAGE = SearchAttributeKey.for_keyword("ComplaintStage")
COURSE_TYPE = SearchAttributeKey.for_keyword("CourseType")
DEPARTMENT = SearchAttributeKey.for_keyword("Department")
SEVERITY = SearchAttributeKey.for_keyword("Severity")
STUDENT_ID = SearchAttributeKey.for_keyword("StudentId")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
ASSIGNED_TO = SearchAttributeKey.for_keyword("AssignedTo")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
AMOUNT_FEN = SearchAttributeKey.for_int("AmountFen")

ALL: tuple[SearchAttributeKey, ...] = (
    REFUND_STATUS,
    COMPLAINT_STAGE,
    COURSE_TYPE,
    DEPARTMENT,
    SEVERITY,
    STUDENT_ID,
    ORDER_ID,
    ASSIGNED_TO,
    SLA_DUE_AT,
    SLA_BREACHED,
    AMOUNT_FEN,
)


def assigned_to(user_id: str | None) -> SearchAttributeUpdate:
    """Who holds a case now; nobody (a queue, the gateway, done) removes the attribute rather than
    leaving a blank, so `AssignedTo IS NULL` finds them all."""
    return ASSIGNED_TO.value_set(user_id) if user_id else ASSIGNED_TO.value_unset()


def refund_start_attributes(request: RefundRequest) -> TypedSearchAttributes:
    """What a refund workflow is found by from its start (the API's, or a complaint's child)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(REFUND_STATUS, "requested"),
            SearchAttributePair(STUDENT_ID, request.student.id),
            SearchAttributePair(ORDER_ID, request.order_id),
            SearchAttributePair(COURSE_TYPE, request.course.type.value),
            SearchAttributePair(AMOUNT_FEN, request.refund_amount_fen),
        ]
    )


def complaint_start_attributes(request: ComplaintRequest) -> TypedSearchAttributes:
    """What a complaint workflow is found by from its start; triage adds the rest."""
    pairs = [
        SearchAttributePair(COMPLAINT_STAGE, "received"),
        SearchAttributePair(STUDENT_ID, request.student.id),
    ]
    if request.order_id:
        pairs.append(SearchAttributePair(ORDER_ID, request.order_id))
    if request.course is not None:
        pairs.append(SearchAttributePair(COURSE_TYPE, request.course.type.value))
    return TypedSearchAttributes(pairs)
