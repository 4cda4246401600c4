"""Turning the services' refusals into what a form shows: each field's message beside the field,
anything else above the form."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from fastapi import HTTPException, Request, status
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from temporalio.client import WorkflowUpdateFailedError

from api.services.complaints import IDEMPOTENCY_KEY

# The hidden field of an action form that carries its Idempotency-Key: a 503 may come after the
# action was taken, and the form shown again keeps its key, so sending it again takes it once.
ACTION_KEY_FIELD = "idempotency_key"
# Far beyond any order or coupon: larger amounts are typing mistakes, refused before any arithmetic.
MAX_TYPED_YUAN = Decimal(100_000_000)


@dataclass
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.message)

    def of_form(self, form: str) -> FormErrors:
        """The same errors for one of several forms on a page: field `text` of form `note` becomes
        `note-text`, the id its input has there."""
        return FormErrors({f"{form}-{name}": text for name, text in self.fields.items()}, self.message)


def fen_of_yuan(text: str) -> int | None:
    """An amount typed in yuan ("30", "29.9") in fen; None when left empty. ValueError for anything
    that is not a positive amount to the fen."""
    if not text.strip():
        return None
    try:
        yuan = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not yuan.is_finite() or not 0 < yuan <= MAX_TYPED_YUAN:  # before int(): "1e999999999" stays cheap
        raise ValueError(text)
    fen = yuan * 100
    if fen != fen.to_integral_value():
        raise ValueError(text)
    return int(fen)


def errors_of(exc: HTTPException | ValidationError) -> FormErrors:
    if isinstance(exc, ValidationError):
        problems = exc.errors()
        whole = [_field_message(e) for e in problems if not e["loc"]]
        return FormErrors(
            fields={str(e["loc"][-1]): _field_message(e) for e in problems if e["loc"]},
            message="; ".join(whole) or None,
        )
    detail = exc.detail
    if exc.status_code == 422 and isinstance(detail, list):
        return FormErrors(fields={str(e["loc"][-1]): e["msg"] for e in detail if e.get("loc")})
    if isinstance(detail, dict):
        return FormErrors(message=str(detail.get("message", detail)))
    return FormErrors(message=str(detail))


def _field_message(error: ErrorDetails) -> str:
    """A refusal as a person reads it, beside its field or above the form: lengths of text in both
    languages."""
    ctx = error.get("ctx", {})
    if error["type"] == "string_too_long":
        return f"最多 {ctx['max_length']} 个字 / at most {ctx['max_length']} characters"
    if error["type"] == "string_too_short":
        return f"至少 {ctx['min_length']} 个字 / at least {ctx['min_length']} characters"
    return error["msg"].removeprefix("Value error, ")


def refusal_of(exc: HTTPException | ValidationError | WorkflowUpdateFailedError, t: Callable[..., str]):
    """What a refused action shows, and the page's status: 422 with messages beside the fields,
    else the service's own answer (409 wrong state, 403, 503 unavailable). An update that failed
    for a reason of its own changed nothing: said so above the form (503), never a server error."""
    if isinstance(exc, ValidationError):
        return errors_of(exc), status.HTTP_422_UNPROCESSABLE_CONTENT
    if isinstance(exc, HTTPException):
        errors = errors_of(exc)
        return errors, status.HTTP_422_UNPROCESSABLE_CONTENT if errors.fields else exc.status_code
    return FormErrors(
        message=t("common.failed", reason=str(exc.cause or exc))
    ), status.HTTP_503_SERVICE_UNAVAILABLE


def see_other(path: str) -> RedirectResponse:
    """After a form was taken: go (GET) to the page that shows its result."""
    return RedirectResponse(path, status_code=status.HTTP_303_SEE_OTHER)


def new_action_key() -> str:
    """A key for the actions of one showing of a page."""
    return secrets.token_urlsafe(16)


async def sent_action_key(request: Request) -> str:
    """The key the action's form was sent with; "" when it sent none, or something that is not one."""
    key = str((await request.form()).get(ACTION_KEY_FIELD, ""))
    return key if IDEMPOTENCY_KEY.fullmatch(key) else ""
