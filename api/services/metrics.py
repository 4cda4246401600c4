"""What GET /metrics tells Prometheus about the application; docs/operations.md (Metrics) says how
to read each figure.

Facts the database holds are read from it at scrape time, so every API replica reports the same
numbers and a restart loses none: refunds by status (the projection), notices not delivered
(notifications), SLA warnings and breaches and mismatched gateway results (audit events — an
append-only table, so their counts only grow and are exposed as counters). Each read is a GROUP BY
over an index (migration 0015), a few rows back whatever the tables hold.

A refused gateway callback leaves no row (it changes nothing, by design), so it is counted in this
process: from zero at start, per process, as Prometheus counters are meant to be read. So are failed
sign-ins and requests refused by a rate limit (api/rate_limits.py), whose buckets are per process too."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from api.rate_limits import Limit
from db.engine import SessionFactory
from db.models import AuditEvent, Notification, Refund
from domain.courses import Gateway
from domain.notifications import Channel, NotificationStatus
from domain.refunds import RefundStatus
from domain.sla_events import SLA_EVENTS
from integrations.payments.base import CallbackRefusal

log = logging.getLogger(__name__)
# Each counter's `_created` series would double what every scrape carries, for a start time that
# Prometheus does not read (it sees a restart as a counter that went down).
disable_created_metrics()

# A gateway result (callback or query answer) whose refund or amounts did not match, recorded by
# the refund workflow and not applied; its actor is the gateway.
GATEWAY_MISMATCH = "gateway.mismatch_ignored"
# Notices that did not reach the student on their channel: still being retried, refused for good,
# or refused for good and sent on another channel instead.
UNDELIVERED = (NotificationStatus.RETRIED, NotificationStatus.FAILED, NotificationStatus.FALLBACK)
# A scrape that waits longer has been given up by Prometheus (10 s by default) anyway.
STATEMENT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class DatabaseFigures:
    refunds_by_status: dict[str, int]
    undelivered_notices: dict[tuple[str, str], int]  # (channel, status) → notices
    sla_events: dict[str, int]  # audit event → how many
    mismatches_by_gateway: dict[str, int]


def read_figures(session: Session) -> DatabaseFigures:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    refunds = session.exec(select(Refund.status, func.count()).group_by(Refund.status)).all()
    notices = session.exec(
        select(Notification.channel, Notification.status, func.count())
        .where(col(Notification.status).in_([status.value for status in UNDELIVERED]))
        .group_by(Notification.channel, Notification.status)
    ).all()
    # Tens of thousands of SLA events are counted in the event index alone; only the rare
    # mismatches are read row by row, for their gateway.
    sla_events = session.exec(
        select(AuditEvent.event, func.count())
        .where(col(AuditEvent.event).in_(SLA_EVENTS))
        .group_by(AuditEvent.event)
    ).all()
    mismatches = session.exec(
        select(AuditEvent.actor, func.count())
        .where(AuditEvent.event == GATEWAY_MISMATCH)
        .group_by(AuditEvent.actor)
    ).all()
    return DatabaseFigures(
        refunds_by_status=dict(refunds),
        undelivered_notices={(channel, status): count for channel, status, count in notices},
        sla_events=dict(sla_events),
        mismatches_by_gateway=dict(mismatches),
    )


class DatabaseCollector:
    """Reads the figures at each scrape. When the database cannot answer, the scrape still succeeds
    with aftercare_metrics_database_up 0 and without them (an absent series, not a false zero)."""

    def __init__(self, sessions_of: Callable[[], SessionFactory]) -> None:
        self._sessions_of = sessions_of

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        sessions = self._sessions_of()
        try:
            with sessions() as session:
                figures = read_figures(session)
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            yield _database_up(False)
            return
        yield from _families(figures)
        yield _database_up(True)
        yield GaugeMetricFamily(
            "aftercare_metrics_database_seconds",
            "How long this scrape's database reads took.",
            value=time.perf_counter() - started,
        )


def _families(figures: DatabaseFigures) -> Iterable[Metric]:
    refunds = GaugeMetricFamily(
        "aftercare_refunds", "Refunds in each status now (the refunds projection).", labels=["status"]
    )
    # Every status is reported, zeros included, so an alert on one never sees its series vanish.
    statuses = [status.value for status in RefundStatus]
    for status in [*statuses, *sorted(set(figures.refunds_by_status) - set(statuses))]:
        refunds.add_metric([status], figures.refunds_by_status.get(status, 0))
    yield refunds

    notices = GaugeMetricFamily(
        "aftercare_notifications_failed",
        "Notices not delivered on their channel, now: retried (an attempt failed and it is tried "
        "again), failed (refused for good), fallback (refused for good and sent on another channel).",
        labels=["channel", "status"],
    )
    channels = {channel.value for channel in Channel} | {
        channel for channel, _ in figures.undelivered_notices
    }
    for channel in sorted(channels):
        for status in UNDELIVERED:
            count = figures.undelivered_notices.get((channel, status.value), 0)
            notices.add_metric([channel, status.value], count)
    yield notices

    sla = CounterMetricFamily(
        "aftercare_sla_events",
        "SLA warnings and breaches recorded: complaint first-response and resolution clocks, and the "
        "refund review (warning = the reviewer's reminder, breached = escalated to a lead).",
        labels=["case_type", "clock", "kind"],
    )
    for event, (case_type, clock, kind) in SLA_EVENTS.items():
        sla.add_metric([case_type, clock, kind], figures.sla_events.get(event, 0))
    yield sla

    mismatched = CounterMetricFamily(
        "aftercare_gateway_results_mismatched",
        "Gateway results (callbacks or query answers) whose refund or amounts did not match the "
        "refund: recorded by its workflow and not applied.",
        labels=["gateway"],
    )
    by_gateway = {gateway.value: 0 for gateway in Gateway} | figures.mismatches_by_gateway
    for gateway, count in sorted(by_gateway.items()):
        mismatched.add_metric([gateway], count)
    yield mismatched


def _database_up(answered: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "aftercare_metrics_database_up", "1 when the database answered this scrape.", value=int(answered)
    )


class ApplicationMetrics:
    """One per app, with its own registry: several apps in one process (the tests) never share a
    count. sessions_of is called at scrape time (the app's lifespan builds the session factory)."""

    def __init__(self, sessions_of: Callable[[], SessionFactory], gateways: Iterable[Gateway]) -> None:
        self.registry = CollectorRegistry()
        self._callbacks_refused = Counter(
            "aftercare_gateway_callbacks_refused",
            "Gateway notifications refused by this API process (401 or 404): unsigned, forged, "
            "replayed, not ours, unreadable, or about no refund we know.",
            ["gateway", "reason"],
            registry=self.registry,
        )
        for gateway in gateways:  # each series exists from the start, so its first increase shows
            for reason in CallbackRefusal:
                self._callbacks_refused.labels(gateway.value, reason.value)
        self._sign_in_failures = Counter(
            "aftercare_sign_in_failures",
            "Sign-ins refused by this API process for a wrong email or password (API and console).",
            registry=self.registry,
        )
        self._throttled = Counter(
            "aftercare_requests_throttled",
            "Requests this API process answered 429 by a rate limit: login_per_ip, login_per_account "
            "(failed sign-ins), webhooks_per_ip (every webhook call), webhook_refusals_per_ip "
            "(webhook calls that failed verification).",
            ["limit"],
            registry=self.registry,
        )
        for limit in Limit:
            self._throttled.labels(limit.value)
        self.registry.register(DatabaseCollector(sessions_of))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def callback_refused(self, gateway: Gateway, reason: CallbackRefusal) -> None:
        self._callbacks_refused.labels(gateway.value, reason.value).inc()

    def sign_in_failed(self) -> None:
        self._sign_in_failures.inc()

    def throttled(self, limit: Limit) -> None:
        self._throttled.labels(limit.value).inc()
