"""The complaint SLA table on each real database: the migration seeds the source articles' terms,
an edit is what the next complaint is judged by, and a category without a usable row falls back to
its default rather than failing a complaint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import col, delete

from db.engine import SessionFactory
from db.models import ComplaintSlaTermsRow
from db.sla_store import save_sla_terms, sla_in_force, sla_terms
from domain.complaints import DEFAULT_SLA, ComplaintCategory, Department, SlaTerms


@pytest.fixture(autouse=True)
def seeded_table(sessions: SessionFactory) -> Iterator[None]:
    """Each test starts from, and leaves, the table as migrated (the database is the module's)."""
    yield
    with sessions() as session:
        session.exec(delete(ComplaintSlaTermsRow))
        for category, terms in DEFAULT_SLA.items():
            save_sla_terms(session, category, terms, by="migration")
        session.commit()


def test_the_migration_seeds_every_category_with_the_source_articles_terms(sessions: SessionFactory) -> None:
    with sessions() as session:
        in_force = sla_in_force(session)
    assert {category: found.row is not None for category, found in in_force.items()} == {
        category: True for category in ComplaintCategory
    }
    as_read = {
        category.value: (
            found.terms.first_response_minutes,
            found.terms.resolution_minutes,
            found.terms.department.value,
            found.terms.business_hours_only,
        )
        for category, found in in_force.items()
    }
    assert as_read == {
        "technical": (10, 120, "tech_support", False),
        "course_content": (30, 1440, "academic", False),
        "service_fees": (60, 2880, "customer_service", False),
    }
    assert {category: found.terms for category, found in in_force.items()} == DEFAULT_SLA


def test_saved_terms_are_in_force_for_their_category_only(sessions: SessionFactory) -> None:
    slower = SlaTerms(
        first_response_minutes=45,
        resolution_minutes=300,
        department=Department.ACADEMIC,
        business_hours_only=True,
    )
    with sessions() as session:
        replaced = save_sla_terms(session, ComplaintCategory.TECHNICAL, slower, by="ADM1")
        session.commit()
    assert replaced == DEFAULT_SLA[ComplaintCategory.TECHNICAL]
    with sessions() as session:
        in_force = sla_in_force(session)
    technical = in_force[ComplaintCategory.TECHNICAL]
    assert technical.terms == slower
    assert technical.row is not None and technical.row.updated_by == "ADM1"
    assert in_force[ComplaintCategory.SERVICE_FEES].terms == DEFAULT_SLA[ComplaintCategory.SERVICE_FEES]
    with sessions() as session:
        again = save_sla_terms(session, ComplaintCategory.TECHNICAL, slower, by="ADM2")
        session.commit()
    assert again == slower  # what the first edit left


def test_saving_a_category_without_a_row_adds_it_and_replaces_the_default(sessions: SessionFactory) -> None:
    with sessions() as session:
        session.exec(delete(ComplaintSlaTermsRow).where(col(ComplaintSlaTermsRow.category) == "service_fees"))
        session.commit()
    quicker = SlaTerms(
        first_response_minutes=20, resolution_minutes=600, department=Department.CUSTOMER_SERVICE
    )
    with sessions() as session:
        replaced = save_sla_terms(session, ComplaintCategory.SERVICE_FEES, quicker, by="ADM1")
        session.commit()
    assert replaced == DEFAULT_SLA[ComplaintCategory.SERVICE_FEES]
    with sessions() as session:
        found = sla_in_force(session)[ComplaintCategory.SERVICE_FEES]
    assert found.terms == quicker and found.row is not None


def test_a_missing_or_unusable_row_falls_back_to_the_default(sessions: SessionFactory) -> None:
    with sessions() as session:
        session.delete(session.get(ComplaintSlaTermsRow, "course_content"))
        # Edited by hand in the database: a department the code does not know, a zero deadline.
        fees = session.get(ComplaintSlaTermsRow, "service_fees")
        assert fees is not None
        fees.department = "marketing"
        technical = session.get(ComplaintSlaTermsRow, "technical")
        assert technical is not None
        technical.first_response_minutes = 0
        session.add(
            ComplaintSlaTermsRow(
                category="retired", first_response_minutes=5, resolution_minutes=5, department="academic"
            )
        )
        session.commit()
    with sessions() as session:
        in_force = sla_in_force(session)
        terms = sla_terms(session)
    assert terms == DEFAULT_SLA  # and the retired category's row is not among them
    assert all(found.row is None for found in in_force.values())
