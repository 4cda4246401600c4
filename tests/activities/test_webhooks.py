"""Webhook fan-out and delivery against real HTTP subscribers on loopback: the sandbox's CRM
stand-in (which checks signatures) and a subscriber told how to answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request, Response
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhooks import WebhookActivities
from db.engine import SessionFactory
from db.models import WebhookDelivery, WebhookSubscription
from devstack.processes import free_port
from devstack.school_systems import CRM_EVENTS_PATH, DEV_CRM_WEBHOOK_SECRET, school_systems_router
from domain.webhooks import OutboundEvent, OutboundEventType
from integrations.signed_post import verify
from tests.http_server import serving


class Subscriber:
    """Answers with the statuses it is given, in turn, and keeps every request."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=self.answers.pop(0) if self.answers else 200, content="ok")


@pytest_asyncio.fixture(scope="module")
async def endpoints() -> AsyncIterator[tuple[str, Subscriber]]:
    school = FastAPI()
    school.include_router(school_systems_router())
    subscriber = Subscriber()
    async with serving(school, free_port()) as school_url, serving(subscriber.app, free_port()) as url:
        yield school_url, subscriber, url


def _subscribe(
    sessions: SessionFactory, sub_id: str, url: str, types: list[str], secret: str = "s3cret"
) -> None:
    with sessions() as session:
        session.add(
            WebhookSubscription(id=sub_id, url=url, secret=secret, event_types=types, created_by="U-ADMIN")
        )
        session.commit()


def _pause_all(sessions: SessionFactory) -> None:
    """Subscriptions of earlier tests (the database lives for the module) stop receiving."""
    with sessions() as session:
        for subscription in session.exec(select(WebhookSubscription)):
            subscription.active = False
            session.add(subscription)
        session.commit()


def _event(n: str, kind: OutboundEventType = OutboundEventType.REFUND_REFUNDED) -> OutboundEvent:
    return OutboundEvent(
        # Unique per call: the CRM stand-in outlives one database's run of this module.
        id=f"refund-RF{n}:{secrets.token_hex(4)}:{kind.value}",
        type=kind,
        occurred_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        case_type="refund",
        case_id=f"RF{n}",
        data={"refund_id": f"RF{n}", "student_id": f"S-{n}", "course_type": "regular", "status": "refunded"},
    )


def _delivery(sessions: SessionFactory, delivery_id: str) -> WebhookDelivery:
    with sessions() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


async def test_an_event_reaches_each_matching_subscriber_once_signed(
    sessions: SessionFactory, endpoints
) -> None:
    school_url, _subscriber, _url = endpoints
    _subscribe(sessions, "wh_crm1", f"{school_url}{CRM_EVENTS_PATH}", ["refund.*"], DEV_CRM_WEBHOOK_SECRET)
    _subscribe(sessions, "wh_only_requested", f"{school_url}/never", ["refund.requested"])
    _subscribe(sessions, "wh_paused", f"{school_url}/never", ["*"])
    with sessions() as session:
        paused = session.get(WebhookSubscription, "wh_paused")
        assert paused is not None
        paused.active = False
        session.add(paused)
        session.commit()
    webhooks = WebhookActivities(sessions)
    env = ActivityEnvironment()
    event = _event("A1")
    deliveries = env.run(webhooks.fan_out_event, event)
    assert deliveries == [f"{event.id}:wh_crm1"]
    assert env.run(webhooks.fan_out_event, event) == deliveries  # a retried fan-out adds nothing

    for _ in range(2):  # the second run is a retry after a lost acknowledgement
        assert await env.run(webhooks.deliver_webhook, deliveries[0]) == "sent"
    async with httpx.AsyncClient(base_url=school_url) as school:
        [received] = [e for e in (await school.get(CRM_EVENTS_PATH)).json() if e["id"] == event.id]
        tags = (await school.get("/sandbox/crm/tags/S-A1")).json()
    assert (received["id"], received["type"], received["deliveries"]) == (event.id, "refund.refunded", 1)
    assert tags == ["refunded", "refunded:regular"]  # the CRM re-tagged the student
    row = _delivery(sessions, deliveries[0])
    assert (row.status, row.attempts, row.response_status) == ("sent", 1, 200)
    assert json.loads(row.body) == event.body()


async def test_a_subscriber_that_is_down_is_retried_and_one_that_refuses_is_given_up(
    sessions: SessionFactory, endpoints
) -> None:
    _school_url, subscriber, url = endpoints
    _pause_all(sessions)
    _subscribe(sessions, "wh_flaky", f"{url}/hook", ["refund.refunded"])
    webhooks = WebhookActivities(sessions)
    env = ActivityEnvironment()
    [delivery_id] = env.run(webhooks.fan_out_event, _event("B1"))
    subscriber.answers = [503]
    with pytest.raises(httpx.HTTPStatusError):  # transient: Temporal's retry policy tries again
        await env.run(webhooks.deliver_webhook, delivery_id)
    row = _delivery(sessions, delivery_id)
    assert (row.status, row.attempts, row.response_status) == ("queued", 1, 503)
    assert await env.run(webhooks.deliver_webhook, delivery_id) == "sent"
    assert _delivery(sessions, delivery_id).attempts == 2

    # Both attempts carried the same body, event and delivery ids, each signed with the secret.
    first, second = subscriber.received[-2:]
    assert first[1] == second[1]
    for headers, body in (first, second):
        assert headers["x-aftercare-event"] == "refund.refunded"
        assert headers["x-aftercare-delivery"] == delivery_id
        assert verify("s3cret", headers["x-aftercare-timestamp"], headers["x-aftercare-signature"], body)

    [gone_id] = env.run(webhooks.fan_out_event, _event("B2"))
    subscriber.answers = [410]
    with pytest.raises(ApplicationError) as refused:
        await env.run(webhooks.deliver_webhook, gone_id)
    assert refused.value.non_retryable and refused.value.type == "WebhookRefused"
    gone = _delivery(sessions, gone_id)
    assert (gone.status, gone.response_status) == ("failed", 410)


async def test_a_forged_delivery_is_refused_by_the_crm(endpoints) -> None:
    school_url, _subscriber, _url = endpoints
    event = _event("C1")
    body = json.dumps(event.body()).encode()
    async with httpx.AsyncClient(base_url=school_url) as school:
        forged = await school.post(
            CRM_EVENTS_PATH,
            content=body,
            headers={"X-Aftercare-Timestamp": "1700000000", "X-Aftercare-Signature": "sha256=00"},
        )
        assert forged.status_code == 401
        assert all(e["id"] != event.id for e in (await school.get(CRM_EVENTS_PATH)).json())


async def test_a_delivery_for_a_paused_subscription_is_not_sent(sessions: SessionFactory, endpoints) -> None:
    _school_url, subscriber, url = endpoints
    _pause_all(sessions)
    _subscribe(sessions, "wh_soon_paused", f"{url}/hook", ["refund.approved"])
    webhooks = WebhookActivities(sessions)
    env = ActivityEnvironment()
    [delivery_id] = env.run(webhooks.fan_out_event, _event("D1", OutboundEventType.REFUND_APPROVED))
    with sessions() as session:
        subscription = session.get(WebhookSubscription, "wh_soon_paused")
        assert subscription is not None
        subscription.active = False
        session.add(subscription)
        session.commit()
    seen = len(subscriber.received)
    with pytest.raises(ApplicationError) as refused:
        await env.run(webhooks.deliver_webhook, delivery_id)
    assert refused.value.non_retryable
    assert len(subscriber.received) == seen
    assert _delivery(sessions, delivery_id).status == "failed"


def documented_receiver(secret: str, accepted: list[dict]) -> FastAPI:
    """A subscriber written from the README alone (only the standard library, none of our code):
    `X-Aftercare-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "\n" + body)>`, timestamps
    older than 5 minutes rejected, an event id applied once."""
    app = FastAPI()

    @app.post("/aftercare")
    async def receive(request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers["X-Aftercare-Timestamp"]
        signed = timestamp.encode() + b"\n" + body
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(timestamp)) <= 300
        if not (fresh and hmac.compare_digest(request.headers["X-Aftercare-Signature"], expected)):
            return Response(status_code=401)
        event = json.loads(body)
        if event["id"] not in {seen["id"] for seen in accepted}:
            accepted.append(event)
        return Response(status_code=204)

    return app


async def test_a_receiver_written_from_the_readme_accepts_our_deliveries(sessions: SessionFactory) -> None:
    accepted: list[dict] = []
    port = free_port()
    async with serving(documented_receiver("from-the-docs", accepted), port) as url:
        _pause_all(sessions)
        _subscribe(sessions, "wh_documented", f"{url}/aftercare", ["*"], secret="from-the-docs")
        _subscribe(sessions, "wh_wrong_secret", f"{url}/aftercare", ["*"], secret="not-what-they-hold")
        webhooks = WebhookActivities(sessions)
        env = ActivityEnvironment()
        event = _event("E1")
        right, wrong = sorted(env.run(webhooks.fan_out_event, event))
        assert await env.run(webhooks.deliver_webhook, right) == "sent"
        with pytest.raises(ApplicationError):  # the receiver refuses a signature it cannot verify
            await env.run(webhooks.deliver_webhook, wrong)
    assert [e["id"] for e in accepted] == [event.id]
    assert accepted[0]["type"] == "refund.refunded" and accepted[0]["data"]["refund_id"] == "RFE1"
