"""A refund's or a complaint's whole audit trail, and its export for a dispute (JSON or CSV)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.deps import CurrentUser, SessionDep
from api.errors import refusals
from api.services.audit_trail import CaseTrail, CaseType, case_trail, exported_trail, trail_csv, trail_json

# A case the caller may not see is not found; a student's own case is theirs to read on its page, but
# its audit trail is kept for staff (403).
router = APIRouter(tags=["audit"], responses=refusals(401, 403, 404))

FileFormat = Literal["json", "csv"]
ExportFormat = Annotated[FileFormat, Query(alias="format")]


@router.get("/api/refunds/{refund_id}/timeline", response_model=CaseTrail)
def refund_timeline(refund_id: str, session: SessionDep, user: CurrentUser) -> CaseTrail:
    """Every audit event of the refund, oldest first, with its place in the hash chain and the
    chain's verdict: steps, each notice's rendered copy, each exchange with the gateway."""
    return case_trail(session=session, user=user, case_type="refund", case_id=refund_id)


@router.get("/api/complaints/{complaint_id}/timeline", response_model=CaseTrail)
def complaint_timeline(complaint_id: str, session: SessionDep, user: CurrentUser) -> CaseTrail:
    """Every audit event of the complaint, oldest first, with the hash chain's verdict."""
    return case_trail(session=session, user=user, case_type="complaint", case_id=complaint_id)


# The file: JSON (the trail with the chain's verdict and who exported it) or CSV, as `format` asks.
EXPORT_FILE = {
    200: {
        "description": "the audit trail as a file to keep",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/api/refunds/{refund_id}/export", responses=EXPORT_FILE)
def export_refund(
    refund_id: str, request: Request, user: CurrentUser, export_format: ExportFormat = "json"
) -> Response:
    """The refund's trail as a file; the export is itself recorded on the trail first."""
    return _export(request, user, "refund", refund_id, export_format)


@router.get("/api/complaints/{complaint_id}/export", responses=EXPORT_FILE)
def export_complaint(
    complaint_id: str, request: Request, user: CurrentUser, export_format: ExportFormat = "json"
) -> Response:
    return _export(request, user, "complaint", complaint_id, export_format)


def _export(
    request: Request,
    user: CurrentUser,
    case_type: CaseType,
    case_id: str,
    export_format: Literal["json", "csv"],
) -> Response:
    trail, exported_at = exported_trail(
        sessions=request.app.state.sessions, user=user, case_type=case_type, case_id=case_id
    )
    filename = f"{case_type}-{case_id}-audit.{export_format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if export_format == "csv":
        return Response(trail_csv(trail), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(trail_json(trail, exported_at, user.id), media_type="application/json", headers=headers)
