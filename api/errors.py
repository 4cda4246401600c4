"""The API's refusals: the shapes it answers them in, declared once so every route's OpenAPI schema
documents the refusals it really gives (`refusals(...)` in a router's or a route's `responses=`), and
errors shaped like FastAPI's own validation errors, for rules only the database can check and for a
body that cannot be read at all."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException


class Refusal(BaseModel):
    """Every refusal but a field's: what was refused and why, in words."""

    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]  # where: ["body", "amount_fen"], ["query", "month"], ["path", "user_id"]…
    msg: str
    type: str


class FieldRefusal(BaseModel):
    """422, as FastAPI answers a request its parameters refuse: each problem beside its field."""

    detail: list[FieldProblem]


# What each refusal means, as the schema says it. A route declares those it can give.
REFUSAL_MEANINGS: dict[int, str] = {
    401: "not signed in, or the token is forged, expired or its account's role or state has changed",
    403: "the caller's role may not do this",
    404: "no such thing, or not one the caller may see (another student's case is not found)",
    409: "not in a state that allows this (already decided, closed, resolved…); nothing was changed",
    413: "the body is larger than this operation ever takes",
    422: "a field is missing or wrong; each problem is named beside its field",
    429: "too many attempts from this address or for this account; Retry-After says when to try again",
    503: "the workflow service (or an outside service this needs) did not answer; nothing was changed, "
    "try again",
}


def refusals(*codes: int, meanings: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a router or route that may refuse with these codes; `meanings` says what one
    of them means there when the general words would mislead."""
    return {
        code: {
            "model": FieldRefusal if code == 422 else Refusal,
            "description": (meanings or {}).get(code, REFUSAL_MEANINGS[code]),
        }
        for code in codes
    }


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


# A route's own check ("no such group yet", "not a member yet") passed, and another request saved
# the same row before this one committed: the database's unique key refused the second.
SIMULTANEOUS_CHANGE = (
    "another request saved the same thing at the same moment; nothing was changed, reload and try again"
)


# How each database says a unique key refused a row (PostgreSQL's SQLSTATE 23505, in psycopg's words).
_DUPLICATE_KEY = ("UNIQUE constraint failed", "duplicate key value violates unique constraint")


def simultaneous_change(exc: IntegrityError) -> JSONResponse | None:
    """A 409 for a write a unique key refused as a duplicate of one committed a moment before — the
    race no route's own check can close. The request's transaction is rolled back with its session,
    so nothing of it was written. (Routes that expect a duplicate answer it themselves.) None for
    any other integrity error — a missing value, a broken reference — which is a bug, and a 500."""
    if not any(words in str(exc.orig) for words in _DUPLICATE_KEY):
        return None
    return JSONResponse({"detail": SIMULTANEOUS_CHANGE}, status_code=status.HTTP_409_CONFLICT)


# FastAPI's words when a body cannot be read as its Content-Type says (JSON that is not UTF-8),
# answered as a 400 of its own that no route declares; Starlette's form parser answers a broken form
# (no boundary, too many fields or files) the same way, in its own words.
_BODY_UNREADABLE = "There was an error parsing the body"


def unreadable_body(exc: StarletteHTTPException) -> JSONResponse | None:
    """A 422 on the body, as for JSON that does not parse, for a body FastAPI or Starlette could not
    read at all; None for every other HTTP error."""
    if exc.status_code != status.HTTP_400_BAD_REQUEST:
        return None
    if exc.detail == _BODY_UNREADABLE:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            message = "the body is not UTF-8 text"
        else:
            message = "the body cannot be read as its Content-Type says"
    elif isinstance(exc.__context__, MultiPartException):
        message = f"the form cannot be read: {exc.detail}"
    else:
        return None
    return JSONResponse(
        {"detail": [{"loc": ["body"], "msg": message, "type": "body_unreadable"}]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )
