"""The complaint SLA table (complaint_sla_terms): the terms in force per category, which every new
complaint snapshots when it is filed, and an admin's edit of one category's terms."""

from __future__ import annotations

import logging
from typing import NamedTuple

from pydantic import ValidationError
from sqlmodel import Session, select

from db.models import ComplaintSlaTermsRow
from domain.complaints import DEFAULT_SLA, ComplaintCategory, SlaTerms
from domain.timeutil import utcnow

log = logging.getLogger(__name__)


class SlaInForce(NamedTuple):
    terms: SlaTerms
    row: ComplaintSlaTermsRow | None  # None: no usable row, the default applies


def _usable(row: ComplaintSlaTermsRow) -> SlaTerms | None:
    try:
        return SlaTerms.model_validate(row, from_attributes=True)
    except ValidationError as exc:
        log.warning("complaint_sla_terms row %s is unusable; its default applies: %s", row.category, exc)
        return None


def sla_in_force(session: Session) -> dict[ComplaintCategory, SlaInForce]:
    """Every category's terms, with the row they came from. A category without a row, or with a
    row these terms cannot hold (edited by hand in the database), is judged by its default: filing
    a complaint must never fail over the table."""
    rows = {row.category: row for row in session.exec(select(ComplaintSlaTermsRow))}
    in_force: dict[ComplaintCategory, SlaInForce] = {}
    for category in ComplaintCategory:
        row = rows.get(category.value)
        terms = _usable(row) if row is not None else None
        in_force[category] = (
            SlaInForce(terms, row) if terms is not None else SlaInForce(DEFAULT_SLA[category], None)
        )
    return in_force


def sla_terms(session: Session) -> dict[ComplaintCategory, SlaTerms]:
    """The terms in force for every category: what a complaint filed now is judged by."""
    return {category: found.terms for category, found in sla_in_force(session).items()}


def save_sla_terms(session: Session, category: ComplaintCategory, terms: SlaTerms, *, by: str) -> SlaTerms:
    """Add (not commit) the category's new terms, so the caller's audit event lands with them, and
    return the terms they replace. The row is locked first (PostgreSQL), so two admins' edits at
    once each report what the other left."""
    row = session.get(ComplaintSlaTermsRow, category.value, with_for_update=True)
    fields = {**terms.model_dump(mode="json"), "updated_by": by, "updated_at": utcnow()}
    replaced = _usable(row) if row is not None else None
    if row is None:
        row = ComplaintSlaTermsRow(category=category.value, **fields)
    else:
        row.sqlmodel_update(fields)
    session.add(row)
    return replaced if replaced is not None else DEFAULT_SLA[category]
