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
        hook = configured(self.hook)
        try:
            return await hook.revoke_enrollment(**revocation.model_dump())
        except PermanentDeliveryError as exc:
            raise ApplicationError(str(exc), type="EnrollmentRevocationRefused", non_retryable=True) from exc


def configured(hook: CommerceHook | None) -> CommerceHook:
    """The hook, or a final failure saying what to set: retrying cannot configure it."""
    if hook is None:
        raise ApplicationError(
            "no commerce hook is configured (AFTERCARE_COMMERCE_HOOK_URL)",
            type="CommerceHookNotConfigured",
            non_retryable=True,
        )
    return hook
