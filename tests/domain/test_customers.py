"""Identifiers written one canonical way, so the same person always matches."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.customers import CustomerRef, IdentifierKind, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("86 138 0013 8000", "13800138000"),
        ("(021) 6234-5678", "02162345678"),
        ("+1 (415) 555-0100", "+14155550100"),
    ],
)
def test_phone_numbers_are_stored_as_the_school_writes_them(given: str, stored: str) -> None:
    assert normalize_phone(given) == stored


@pytest.mark.parametrize("given", ["", "call me", "12", "+", "138 0013 8000 ext 5" * 3])
def test_what_is_not_a_phone_number_is_refused(given: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(given)


def test_addresses_lose_their_names_and_case() -> None:
    assert normalize_email("林小雨 <Lin.XiaoYu@Example.CN>") == "lin.xiaoyu@example.cn"
    for bad in ("not an address", "a@b", "@example.cn", "a b@example.cn", "a\x00@example.cn", "a@ex\x07.cn"):
        with pytest.raises(ValueError):
            normalize_email(bad)


def test_a_customer_is_named_by_exactly_one_identifier() -> None:
    ref = CustomerRef(phone="+86 139 1234 5678")
    assert (ref.kind, ref.value) == (IdentifierKind.PHONE, "13912345678")
    assert ref.default_name() == "来电客户 5678"
    assert CustomerRef(wechat_openid="oAbC123456789").default_name() == "微信用户 456789"
    for given in ({}, {"phone": "13912345678", "email": "a@b.cn"}, {"wechat_openid": "o/../x"}):
        with pytest.raises(ValidationError):
            CustomerRef(**given)
