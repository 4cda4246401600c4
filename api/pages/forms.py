"""Turning the services' refusals into what a form shows: each field's message beside the field,
anything else above the form."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException
from pydantic import ValidationError


@dataclass
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.message)


def errors_of(exc: HTTPException | ValidationError) -> FormErrors:
    if isinstance(exc, ValidationError):
        problems = exc.errors()
        whole = [e["msg"].removeprefix("Value error, ") for e in problems if not e["loc"]]
        return FormErrors(
            fields={str(e["loc"][-1]): e["msg"] for e in problems if e["loc"]},
            message="; ".join(whole) or None,
        )
    detail = exc.detail
    if exc.status_code == 422 and isinstance(detail, list):
        return FormErrors(fields={str(e["loc"][-1]): e["msg"] for e in detail if e.get("loc")})
    if isinstance(detail, dict):
        return FormErrors(message=str(detail.get("message", detail)))
    return FormErrors(message=str(detail))
