"""The admin's console: notice templates (edit with a preview, version history, back to the
default), the complaint SLA table, and the refund policies (each save a new version). Every form
calls the same route function as the API, so its checks and its audit are the API's."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import RowId, SessionDep
from api.errors import field_error
from api.pages import render_page
from api.pages.forms import FormErrors, errors_of, see_other
from api.pages.session import AdminPage
from api.routes.compensation import QuotaIn, set_quota
from api.routes.compensation import quotas as compensation_quotas
from api.routes.decision_reasons import ReasonChange, ReasonIn, add_reason, change_reason, list_reasons
from api.routes.policies import list_policies, publish_policy
from api.routes.routing import RulesIn, get_routing, replace_rules
from api.routes.sla import SlaTermsIn, get_sla, put_sla
from api.routes.templates import (
    PreviewIn,
    TemplateIn,
    get_template,
    list_templates,
    preview_template,
    revert_template,
    save_template,
)
from api.routes.users import StaffChange, StaffIn, change_staff, create_staff, list_staff
from api.services.users import STAFF_ROLES
from domain.compensation import QuotaPeriod
from domain.complaints import ComplaintCategory, Department
from domain.courses import CourseType
from domain.notifications import STUDENT_CHANNELS
from domain.policy import OutsideWindow, PolicyTerms, RefundWindow
from domain.refunds import Decision
from domain.roles import Role

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]


@router.get("/admin", response_class=HTMLResponse)
def index(request: Request, user: AdminPage) -> Response:
    return see_other("/admin/templates")


@router.get("/admin/templates", response_class=HTMLResponse)
def templates_page(request: Request, user: AdminPage, session: SessionDep) -> Response:
    summaries = list_templates(session, request.app.state.renderer)
    return render_page("admin_templates.html.j2", request=request, user=user, templates=summaries)


def _template_page(
    request, user, session, name, *, draft=None, preview=None, errors=None, code=200
) -> Response:
    template = get_template(name, session, request.app.state.renderer)
    return render_page(
        "admin_template.html.j2",
        code,
        request=request,
        user=user,
        template=template,
        source=template.source if draft is None else draft,
        preview=preview,
        errors=errors or FormErrors(),
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/admin/templates/{name}", response_class=HTMLResponse)
def template_page(name: str, request: Request, user: AdminPage, session: SessionDep) -> Response:
    return _template_page(request, user, session, name)


@router.post("/admin/templates/{name}", response_class=HTMLResponse)
def edit_template(
    name: str,
    request: Request,
    user: AdminPage,
    session: SessionDep,
    source: FormText = "",
    note: FormText = "",
    action: FormText = "preview",
) -> Response:
    """Preview a draft (nothing saved) or save it as the next version; a broken draft is explained."""
    renderer = request.app.state.renderer
    try:
        if action == "save":
            save_template(name, TemplateIn(source=source, note=note), session, renderer, user)
            return see_other(f"/admin/templates/{name}?saved=1")
        if action == "revert":
            revert_template(name, session, renderer, user)
            return see_other(f"/admin/templates/{name}")
        preview = preview_template(name, PreviewIn(source=source), session, renderer)
        return _template_page(request, user, session, name, draft=source, preview=preview)
    except (HTTPException, ValidationError) as exc:
        if isinstance(exc, HTTPException) and exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        errors = errors_of(exc)
    return _template_page(
        request, user, session, name, draft=source, errors=errors, code=422 if errors.fields else 409
    )


def _sla_page(request, user, session, errors: dict[str, FormErrors] | None = None, code=200) -> Response:
    return render_page(
        "admin_sla.html.j2",
        code,
        request=request,
        user=user,
        rows=get_sla(session),
        departments=list(Department),
        errors=errors or {},
    )


@router.get("/admin/sla", response_class=HTMLResponse)
def sla_page(request: Request, user: AdminPage, session: SessionDep) -> Response:
    return _sla_page(request, user, session)


@router.post("/admin/sla/{category}", response_class=HTMLResponse)
def edit_sla(
    category: ComplaintCategory,
    request: Request,
    user: AdminPage,
    session: SessionDep,
    first_response_minutes: FormText = "",
    resolution_minutes: FormText = "",
    department: FormText = "",
    business_hours_only: FormText = "",
) -> Response:
    try:
        terms = SlaTermsIn(
            first_response_minutes=first_response_minutes,
            resolution_minutes=resolution_minutes,
            department=department,
            business_hours_only=business_hours_only == "on",
        )
        put_sla(category, terms, session, user)
        return see_other("/admin/sla")
    except ValidationError as exc:
        return _sla_page(request, user, session, {category.value: errors_of(exc)}, 422)


def _policies_page(request, user, session, errors: dict[str, FormErrors] | None = None, code=200) -> Response:
    return render_page(
        "admin_policies.html.j2",
        code,
        request=request,
        user=user,
        policies=list_policies(session, user),
        windows=list(RefundWindow),
        outside=list(OutsideWindow),
        channels=list(STUDENT_CHANNELS),
        errors=errors or {},
    )


@router.get("/admin/policies", response_class=HTMLResponse)
def policies_page(request: Request, user: AdminPage, session: SessionDep) -> Response:
    return _policies_page(request, user, session)


@router.post("/admin/policies/{course_type}", response_class=HTMLResponse)
def edit_policy(
    course_type: CourseType,
    request: Request,
    user: AdminPage,
    session: SessionDep,
    window: FormText = "",
    window_days: FormText = "",
    fee_bp: FormText = "",
    notice_channels: Annotated[list[str], Form()] = [],  # noqa: B006 — FastAPI copies form defaults
    outside_window: FormText = "",
    manager_confirmation: FormText = "",
    manager_confirmation_from_fen: FormText = "",
    confirmation_reminder_hours: FormText = "",
    review_reminder_hours: FormText = "",
    review_escalation_hours: FormText = "",
) -> Response:
    """Publish the form's terms as the next version (an empty field is "not set")."""
    given = {
        "window": window,
        "window_days": window_days,
        "fee_bp": fee_bp,
        "outside_window": outside_window,
        "manager_confirmation_from_fen": manager_confirmation_from_fen,
        "confirmation_reminder_hours": confirmation_reminder_hours,
        "review_reminder_hours": review_reminder_hours,
        "review_escalation_hours": review_escalation_hours,
    }
    values = {key: value for key, value in given.items() if value.strip()}
    try:
        terms = PolicyTerms.model_validate(
            {
                **values,
                "notice_channels": notice_channels,
                "manager_confirmation": manager_confirmation == "on",
            }
        )
        publish_policy(course_type, terms, session, user)
        return see_other("/admin/policies")
    except (HTTPException, ValidationError) as exc:
        return _policies_page(request, user, session, {course_type.value: errors_of(exc)}, 422)


def _users_page(
    request, user, session, errors: FormErrors | None = None, form=None, code: int = 200
) -> Response:
    return render_page(
        "admin_users.html.j2",
        code,
        request=request,
        user=user,
        accounts=list_staff(session, user),
        roles=sorted(STAFF_ROLES),
        departments=list(Department),
        errors=errors or FormErrors(),
        form=form or {},
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: AdminPage, session: SessionDep) -> Response:
    return _users_page(request, user, session)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    user: AdminPage,
    session: SessionDep,
    email: FormText = "",
    display_name: FormText = "",
    role: FormText = "",
    password: FormText = "",
) -> Response:
    form = {"email": email, "display_name": display_name, "role": role}
    try:
        body = StaffIn(email=email, display_name=display_name, role=role, password=password)
        create_staff(body, session, user)
        return see_other("/admin/users")
    except (HTTPException, ValidationError) as exc:
        errors = errors_of(exc)
    return _users_page(request, user, session, errors, form, 422 if errors.fields else 409)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
def edit_user(
    user_id: str,
    request: Request,
    user: AdminPage,
    session: SessionDep,
    role: FormText = "",
    is_active: FormText = "",
    departments: Annotated[list[str], Form()] = [],  # noqa: B006 — FastAPI copies form defaults
) -> Response:
    try:
        change = StaffChange(role=role or None, is_active=is_active == "on", departments=departments)
        change_staff(user_id, change, session, user)
        return see_other("/admin/users")
    except (HTTPException, ValidationError) as exc:
        if isinstance(exc, HTTPException) and exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        errors = errors_of(exc)
    return _users_page(request, user, session, errors, None, 422 if errors.fields else 409)


def _routing_page(
    request, user, session, *, draft: str | None = None, errors=None, code: int = 200
) -> Response:
    routing = get_routing(session)
    rules = [rule.model_dump(mode="json", exclude_none=True) for rule in routing.rules]
    return render_page(
        "admin_routing.html.j2",
        code,
        request=request,
        user=user,
        routing=routing,
        rules_json=draft if draft is not None else json.dumps(rules, ensure_ascii=False, indent=2),
        errors=errors or FormErrors(),
    )


@router.get("/admin/routing", response_class=HTMLResponse)
def routing_page(request: Request, user: AdminPage, session: SessionDep) -> Response:
    return _routing_page(request, user, session)


@router.post("/admin/routing", response_class=HTMLResponse)
def edit_rules(request: Request, user: AdminPage, session: SessionDep, rules: FormText = "") -> Response:
    """The whole rule list at once, as the API takes it (checked the same way: 422 beside the field)."""
    try:
        body = RulesIn.model_validate({"rules": json.loads(rules)})
        replace_rules(body, session, user)
        return see_other("/admin/routing")
    except json.JSONDecodeError as exc:
        errors = FormErrors(fields={"rules": f"not JSON: {exc.msg} (line {exc.lineno})"})
    except (HTTPException, ValidationError) as exc:
        errors = errors_of(exc)
        if errors.message and not errors.fields:  # the list as a whole is wrong: say so beside it
            errors = FormErrors(fields={"rules": errors.message})
        else:
            errors = FormErrors(fields={"rules": "; ".join(f"{k}: {v}" for k, v in errors.fields.items())})
    return _routing_page(request, user, session, draft=rules, errors=errors, code=422)


def _reasons_page(request, user, session, errors: FormErrors | None = None, code: int = 200) -> Response:
    return render_page(
        "admin_reasons.html.j2",
        code,
        request=request,
        user=user,
        reasons=list_reasons(session, user, include_inactive=True),
        decisions=list(Decision),
        errors=errors or FormErrors(),
    )


@router.get("/admin/reasons", response_class=HTMLResponse)
def reasons_page(request: Request, user: AdminPage, session: SessionDep) -> Response:
    return _reasons_page(request, user, session)


@router.post("/admin/reasons", response_class=HTMLResponse)
def add_decision_reason(
    request: Request, user: AdminPage, session: SessionDep, decision: FormText = "", text: FormText = ""
) -> Response:
    try:
        add_reason(ReasonIn(decision=decision, text=text), session, user)
        return see_other("/admin/reasons")
    except (HTTPException, ValidationError) as exc:
        return _reasons_page(request, user, session, errors_of(exc), 422)


@router.post("/admin/reasons/{reason_id}", response_class=HTMLResponse)
def switch_decision_reason(
    reason_id: RowId, request: Request, user: AdminPage, session: SessionDep, is_active: FormText = ""
) -> Response:
    change_reason(reason_id, ReasonChange(is_active=is_active == "on"), session, user)
    return see_other("/admin/reasons")


def _quotas_page(
    request, user, session, errors: dict[str, FormErrors] | None = None, code: int = 200
) -> Response:
    return render_page(
        "admin_quotas.html.j2",
        code,
        request=request,
        user=user,
        quotas=compensation_quotas(session, user),
        periods=list(QuotaPeriod),
        errors=errors or {},
    )


@router.get("/admin/quotas", response_class=HTMLResponse)
def quotas_page(request: Request, user: AdminPage, session: SessionDep) -> Response:
    return _quotas_page(request, user, session)


@router.post("/admin/quotas/{role}", response_class=HTMLResponse)
def edit_quota(
    role: Role,
    request: Request,
    user: AdminPage,
    session: SessionDep,
    period: FormText = "",
    coupon_yuan: FormText = "",
    progress_resets: FormText = "",
) -> Response:
    """A role's compensation quota; the coupon allowance is typed in yuan and kept in fen."""
    try:
        try:
            coupon_fen = round(float(coupon_yuan) * 100)
        except ValueError:
            raise field_error("coupon_fen", "a number of yuan") from None
        body = QuotaIn(period=period, coupon_fen=coupon_fen, progress_resets=progress_resets)
        set_quota(role, body, session, user)
        return see_other("/admin/quotas")
    except (HTTPException, ValidationError) as exc:
        return _quotas_page(request, user, session, {role.value: errors_of(exc)}, 422)
