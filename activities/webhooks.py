"""Outbound webhooks: fan an event out to the matching subscribers, then deliver each, once.

Fan-out writes one delivery row per subscriber (its id is <event id>:<subscription id>, so a retried
fan-out adds nothing); each delivery is its own activity, so one slow subscriber never holds up the
others and each retries on its own backoff. A row already sent is not sent again.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.engine import SessionFactory
from db.models import WebhookDelivery, WebhookSubscription
from domain.timeutil import utcnow
from domain.webhooks import DeliveryStatus, OutboundEvent, delivery_id_for, matches
from integrations.delivery import PermanentDeliveryError
from integrations.signed_post import post_signed

EXCERPT_LIMIT = 500


class WebhookActivities:
    def __init__(self, session_factory: SessionFactory, timeout_seconds: float = 10.0) -> None:
        self.sessions = session_factory
        self.timeout_seconds = timeout_seconds

    @activity.defn(name="fan_out_event")
    def fan_out_event(self, event: OutboundEvent) -> list[str]:
        body = json.dumps(event.body(), ensure_ascii=False, sort_keys=True)
        delivery_ids = []
        with self.sessions() as session:
            subscriptions = session.exec(
                select(WebhookSubscription).where(WebhookSubscription.active == True)  # noqa: E712
            ).all()
            for subscription in subscriptions:
                if not matches(subscription.event_types, event.type.value):
                    continue
                delivery_id = delivery_id_for(event.id, subscription.id)
                if session.get(WebhookDelivery, delivery_id) is None:
                    session.add(
                        WebhookDelivery(
                            id=delivery_id,
                            subscription_id=subscription.id,
                            event_id=event.id,
                            event_type=event.type.value,
                            case_type=event.case_type,
                            case_id=event.case_id,
                            body=body,
                            status=DeliveryStatus.QUEUED.value,
                        )
                    )
                delivery_ids.append(delivery_id)
            session.commit()
        return delivery_ids

    @activity.defn(name="deliver_webhook")
    async def deliver_webhook(self, delivery_id: str) -> str:
        delivery, subscription = await asyncio.to_thread(self._load, delivery_id)
        if delivery.status == DeliveryStatus.SENT.value:
            return delivery.status
        if subscription is None or not subscription.active:
            delivery.status = DeliveryStatus.FAILED.value
            delivery.response_excerpt = "the subscription was removed or paused before delivery"
            await asyncio.to_thread(self._save, delivery)
            raise ApplicationError(delivery.response_excerpt, type="SubscriptionInactive", non_retryable=True)
        delivery.attempts += 1
        try:
            response = await post_signed(
                subscription.url,
                subscription.secret,
                delivery.body.encode(),
                extra_headers={
                    "X-Aftercare-Event": delivery.event_type,
                    "X-Aftercare-Delivery": delivery.id,
                    "Idempotency-Key": delivery.event_id,
                },
                timeout_seconds=self.timeout_seconds,
            )
        except PermanentDeliveryError as exc:
            self._note_answer(delivery, exc.status_code, str(exc))
            delivery.status = DeliveryStatus.FAILED.value
            await asyncio.to_thread(self._save, delivery)
            raise ApplicationError(str(exc), type="WebhookRefused", non_retryable=True) from exc
        except httpx.HTTPStatusError as exc:
            self._note_answer(delivery, exc.response.status_code, exc.response.text)
            await asyncio.to_thread(self._save, delivery)
            raise  # the retry policy tries again, with backoff
        except httpx.HTTPError as exc:
            self._note_answer(delivery, None, f"{type(exc).__name__}: {exc}")
            await asyncio.to_thread(self._save, delivery)
            raise
        self._note_answer(delivery, response.status_code, response.text)
        delivery.status = DeliveryStatus.SENT.value
        delivery.delivered_at = utcnow()
        await asyncio.to_thread(self._save, delivery)
        return delivery.status

    @staticmethod
    def _note_answer(delivery: WebhookDelivery, status_code: int | None, text: str) -> None:
        delivery.response_status = status_code
        delivery.response_excerpt = text[:EXCERPT_LIMIT]

    def _load(self, delivery_id: str) -> tuple[WebhookDelivery, WebhookSubscription | None]:
        with self.sessions() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                raise ApplicationError(
                    f"no webhook delivery {delivery_id}", type="DeliveryNotFound", non_retryable=True
                )
            return delivery, session.get(WebhookSubscription, delivery.subscription_id)

    def _save(self, delivery: WebhookDelivery) -> None:
        with self.sessions() as session:
            session.merge(delivery)
            session.commit()
