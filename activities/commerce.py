"""Tells the school's commerce system about refunds that change what a student may use."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.refunds import EnrollmentRevocation
from integrations.commerce import CommerceHook
from integrations.delivery import PermanentDeliveryError


class CommerceActivities:
    def __init__(self, hook: CommerceHook | None) -> None:
        self.hook = hook

    @activity.defn(name="revoke_enrollment")
    async def revoke_enrollment(self, revocation: EnrollmentRevocation) -> str:
        if self.hook is None:
            raise ApplicationError(
                "no commerce hook is configured (AFTERCARE_COMMERCE_HOOK_URL)",
                type="CommerceHookNotConfigured",
                non_retryable=True,
            )
        try:
            return await self.hook.revoke_enrollment(**revocation.model_dump())
        except PermanentDeliveryError as exc:
            raise ApplicationError(str(exc), type="EnrollmentRevocationRefused", non_retryable=True) from exc
