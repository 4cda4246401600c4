from __future__ import annotations

from enum import StrEnum


class CourseType(StrEnum):
    TRIAL = "trial"
    REGULAR = "regular"
    PREMIUM = "premium"


class Gateway(StrEnum):
    """The payment gateway an order was paid through; its refund goes back the same way. In dev,
    both talk to the sandbox gateway, which speaks their protocols."""

    WECHATPAY = "wechatpay"
    ALIPAY = "alipay"
