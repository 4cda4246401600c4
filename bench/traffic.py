"""The benchmarks' load (and the resilience tests' students), through the HTTP API as people make
it: students enrolled with paid orders and signed in, asking for refunds and filing complaints,
reviewers working the review queue, an admin setting complaint SLAs, and a tally of every answer that
was not the one a working system gives."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.measure import Latencies
from devstack.population import PASSWORD, make_order, make_user
from devstack.system import System
from domain.complaints import ComplaintCategory
from domain.courses import Gateway
from domain.roles import Role

POLL_SECONDS = 0.5
UNANSWERED = (502, 503, 504)  # asked again, as a person would
REVIEW_PAGE = {"status": "awaiting_review", "limit": 50}


async def login(system: System, email: str, password: str = "demo") -> dict[str, str]:
    response = await system.api.post("/api/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Journey:
    """One order of one student, and the refund asked for it."""

    student_id: str
    student: dict[str, str]  # the student's auth headers
    order_id: str
    trade_no: str
    refund_id: str | None = None
    approved: bool = False


@dataclass
class Students:
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # student id → auth headers
    journeys: list[Journey] = field(default_factory=list)


async def enrol(system: System, *, students: int, orders_each: int, rng: random.Random) -> Students:
    """Students of our own, each with paid regular-course orders (about a third through Alipay, whose
    trades the sandbox must know; WeChat Pay requests carry the total themselves)."""
    enrolled = Students()
    for _ in range(students):
        student = make_user(system.sessions, Role.STUDENT)
        headers = await login(system, student.email, PASSWORD)
        enrolled.headers[student.id] = headers
        for _ in range(orders_each):
            gateway = Gateway.ALIPAY if rng.random() < 1 / 3 else Gateway.WECHATPAY
            order = make_order(system.sessions, student, gateway=gateway)
            if gateway is Gateway.ALIPAY:
                registered = await system.sandbox.put(
                    f"/sandbox/trades/{order.gateway_trade_no}", params={"total_fen": order.amount_paid_fen}
                )
                registered.raise_for_status()
            enrolled.journeys.append(Journey(student.id, headers, order.id, order.gateway_trade_no))
    return enrolled


class Errors:
    """Every answer that was not the one a working system gives, by kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def add(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, detail[:300])

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def read_review_queue(
    system: System, headers: dict[str, str], latency: Latencies, errors: Errors
) -> list[dict] | None:
    """The first page of refunds awaiting review, as a reviewer opens it; its time added to
    `latency` (None, and the error counted, when it did not come)."""
    began = time.perf_counter()
    try:
        page = await system.api.get("/api/refunds", params=REVIEW_PAGE, headers=headers)
    except httpx.TransportError as exc:
        errors.add("review queue: no answer", repr(exc))
        return None
    latency.add(time.perf_counter() - began)
    if page.status_code != 200:
        errors.add(f"review queue: {page.status_code}", page.text)
        return None
    return page.json()


class Reviewers:
    """Reviewers working the review queue: each reads the first page of refunds awaiting review and
    approves those nobody else has taken, until told to stop."""

    def __init__(self, system: System, headers: dict[str, str], count: int, errors: Errors) -> None:
        self.system = system
        self.headers = headers
        self.count = count
        self.errors = errors
        self.queue_latency = Latencies()
        self.approved_at: dict[str, float] = {}  # refund id → when its approval was sent (epoch)
        self._taken: set[str] = set()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        await asyncio.gather(*(self._work() for _ in range(self.count)))

    def stop(self) -> None:
        self._stop.set()

    async def _work(self) -> None:
        while not self._stop.is_set():
            page = await read_review_queue(self.system, self.headers, self.queue_latency, self.errors)
            fresh = [r["refund_id"] for r in page or () if r["refund_id"] not in self._taken]
            if not fresh:
                await asyncio.sleep(POLL_SECONDS)
                continue
            for refund_id in fresh:
                if refund_id in self._taken:
                    continue
                self._taken.add(refund_id)
                await self._approve(refund_id)

    async def _approve(self, refund_id: str) -> None:
        sent = time.time()
        try:
            answer = await self.system.api.post(
                f"/api/refunds/{refund_id}/decision",
                headers=self.headers,
                json={"decision": "approve", "reason": "符合退款政策"},
            )
        except httpx.TransportError as exc:
            self.errors.add("approval: no answer", repr(exc))
            self._taken.discard(refund_id)  # asked again from the queue
            return
        if answer.status_code in (200, 202):  # 202: taken, and recorded behind a backlog
            self.approved_at[refund_id] = sent
            return
        self.errors.add(f"approval: {answer.status_code}", answer.text)
        if answer.status_code in UNANSWERED:
            self._taken.discard(refund_id)


class StudentsAsking:
    """StudentsAsking asking for their refunds through the API: at most `at_once` requests in flight, or
    one every `every_seconds` (an open arrival rate, whatever the answers take)."""

    def __init__(self, system: System, errors: Errors) -> None:
        self.system = system
        self.errors = errors
        self.asked_at: dict[str, float] = {}  # refund id → when the request was sent (epoch)
        self.answer_latency = Latencies()

    async def ask(self, journey: Journey) -> None:
        while True:
            sent = time.time()
            began = time.perf_counter()
            try:
                answer = await self.system.api.post(
                    "/api/refunds",
                    headers=journey.student,
                    json={"order_id": journey.order_id, "reason": "课程时间冲突，无法继续学习"},
                )
            except httpx.TransportError as exc:
                self.errors.add("refund request: no answer", repr(exc))
                await asyncio.sleep(1)
                continue
            if answer.status_code == 202:
                self.answer_latency.add(time.perf_counter() - began)
                journey.refund_id = answer.json()["refund_id"]
                self.asked_at[journey.refund_id] = sent
                return
            self.errors.add(f"refund request: {answer.status_code}", answer.text)
            if answer.status_code not in UNANSWERED:
                return
            await asyncio.sleep(1)

    async def closed_loop(self, journeys: list[Journey], at_once: int) -> None:
        slots = asyncio.Semaphore(at_once)

        async def one(journey: Journey) -> None:
            async with slots:
                await self.ask(journey)

        await asyncio.gather(*(one(j) for j in journeys))

    async def open_loop(self, journeys: list[Journey], every_seconds: float) -> None:
        start = asyncio.get_running_loop().time()
        async with asyncio.TaskGroup() as asks:
            for n, journey in enumerate(journeys):
                await asyncio.sleep(max(0.0, start + n * every_seconds - asyncio.get_running_loop().time()))
                asks.create_task(self.ask(journey))


async def set_complaint_sla(
    system: System, admin: dict[str, str], *, first_response_minutes: int, resolution_minutes: int
) -> None:
    """Every category's SLA set to these minutes, around the clock, each kept in its department."""
    terms = (await system.api.get("/api/complaints/sla", headers=admin)).json()
    for category in ComplaintCategory:
        department = next(t["department"] for t in terms if t["category"] == category.value)
        answer = await system.api.put(
            f"/api/complaints/sla/{category.value}",
            headers=admin,
            json={
                "first_response_minutes": first_response_minutes,
                "resolution_minutes": resolution_minutes,
                "department": department,
                "business_hours_only": False,
            },
        )
        answer.raise_for_status()


async def file_complaint(system: System, student: dict[str, str], errors: Errors) -> str | None:
    """One complaint filed by a student, asked again while the API says to try later; its id."""
    while True:
        try:
            answer = await system.api.post(
                "/api/complaints",
                headers=student,
                json={"text": "直播课一直卡顿，老师的声音断断续续，回放也打不开"},
            )
        except httpx.TransportError as exc:
            errors.add("complaint: no answer", repr(exc))
            await asyncio.sleep(1)
            continue
        if answer.status_code == 202:
            return answer.json()["complaint_id"]
        errors.add(f"complaint: {answer.status_code}", answer.text)
        if answer.status_code not in UNANSWERED:
            return None
        await asyncio.sleep(1)


async def complaint_load(
    system: System, students: list[dict[str, str]], complaints: int, errors: Errors, every_seconds: float
) -> list[str]:
    """File `complaints` complaints, the students taking turns, one every `every_seconds`."""
    filed: list[str] = []
    start = asyncio.get_running_loop().time()
    for n in range(complaints):
        await asyncio.sleep(max(0.0, start + n * every_seconds - asyncio.get_running_loop().time()))
        complaint_id = await file_complaint(system, students[n % len(students)], errors)
        if complaint_id:
            filed.append(complaint_id)
    return filed
