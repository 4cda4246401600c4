"""Errors shaped like FastAPI's own validation errors, for rules only the database can check."""

from __future__ import annotations

from fastapi import HTTPException, status


def field_error(field: str, message: str, *, where: str = "body") -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": [where, field], "msg": message, "type": "value_error"}],
    )
