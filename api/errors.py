"""Errors shaped like FastAPI's own validation errors, for rules only the database can check."""

from __future__ import annotations

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError


def field_error(field: str, message: str, *, where: str = "body") -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": [where, field], "msg": message, "type": "value_error"}],
    )


# psycopg's words when a string bound for PostgreSQL holds U+0000, which its text cannot (SQLite's can).
_NUL_REFUSED = "cannot contain NUL (0x00) bytes"


def nul_refusal(exc: DataError) -> JSONResponse | None:
    """A 422 for text with a NUL character that reached PostgreSQL from a request (an id in the path,
    a filter, a sign-in name, a body field) — whatever the field, the same answer as a field error —
    or None for any other data error, which stays a 500."""
    if _NUL_REFUSED not in str(exc.orig):
        return None
    return JSONResponse(
        {"detail": [{"loc": ["request"], "msg": "text may not contain NUL (U+0000)", "type": "value_error"}]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )
