"""How a customer is recognised whichever way they reach the school: by student id, email address,
phone number or WeChat openid — each written one canonical way, so the same person always matches."""

from __future__ import annotations

import re
from email.utils import parseaddr
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator, model_validator


class IdentifierKind(StrEnum):
    STUDENT_ID = "student_id"
    EMAIL = "email"
    PHONE = "phone"
    # The openid WeChat gives for this customer: the Official Account's (messages to the school) or
    # the mini-program's (subscribe messages). openids are random per app, so one never equals another.
    WECHAT_OPENID = "wechat_openid"


# No spaces, brackets, quotes or separators — nor control characters (a NUL would make a record of
# its own on SQLite and be refused by PostgreSQL).
_EMAIL = re.compile(r"^[^@\s<>\"',;\x00-\x1f\x7f]+@[^@\s<>\"',;\x00-\x1f\x7f]+\.[^@\s<>\"',;\x00-\x1f\x7f]+$")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_OPENID = re.compile(r"^[A-Za-z0-9_\-]{6,64}$")


def normalize_email(value: str) -> str:
    """`Lin <Lin@School.CN>` → `lin@school.cn` (login lower-cases addresses the same way)."""
    address = parseaddr(value)[1].strip().lower()
    if len(address) > 254 or not _EMAIL.match(address):
        raise ValueError(f"not an email address: {value!r}")
    return address


def normalize_phone(value: str) -> str:
    """Digits only, with China's country code dropped from mainland mobiles: `+86 138-0013-8000`
    → `13800138000`, as the school stores them. Other international numbers keep their `+`."""
    compact = _PHONE_NOISE.sub("", value.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    mainland = re.fullmatch(r"\+?86(1\d{10})", compact)
    if mainland:
        return mainland.group(1)
    if not re.fullmatch(r"\+?\d{5,20}", compact):
        raise ValueError(f"not a phone number: {value!r}")
    return compact


def normalize_openid(value: str) -> str:
    if not _OPENID.match(value):
        raise ValueError("not a WeChat openid (6–64 letters, digits, - or _)")
    return value


class CustomerRef(BaseModel):
    """Exactly one way to name a customer: `{"phone": "13800138000"}`, `{"email": …}`, …"""

    student_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    wechat_openid: str | None = Field(default=None, max_length=64)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)

    @field_validator("wechat_openid")
    @classmethod
    def _openid(cls, value: str | None) -> str | None:
        return None if value is None else normalize_openid(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> CustomerRef:
        given = [kind for kind in IdentifierKind if getattr(self, kind.value) is not None]
        if len(given) != 1:
            raise ValueError("name the customer by exactly one of: student_id, email, phone, wechat_openid")
        return self

    @property
    def kind(self) -> IdentifierKind:
        return next(kind for kind in IdentifierKind if getattr(self, kind.value) is not None)

    @property
    def value(self) -> str:
        return getattr(self, self.kind.value)

    def default_name(self) -> str:
        """What to call a customer the channel gave no name for (staff may rename them)."""
        value = self.value
        if self.kind is IdentifierKind.EMAIL:
            return value.split("@", 1)[0][:100]
        if self.kind is IdentifierKind.PHONE:
            return f"来电客户 {value[-4:]}"
        if self.kind is IdentifierKind.WECHAT_OPENID:
            return f"微信用户 {value[-6:]}"
        return value
