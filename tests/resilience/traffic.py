"""Many students asking for refunds at once through the HTTP API, a lead approving each, and the
gateway calling back — while a test breaks something. Calls are retried the way a person or the web
console would: a 503 (or no answer at all) is asked again, a 409 is read against the refund's state."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from sqlmodel import col, select

from bench.traffic import UNANSWERED, Journey
from db.models import Complaint, Refund
from devstack.system import System

# How far along a refund is, for progress (0: not asked yet).
STAGES = {"requested": 1, "awaiting_review": 2, "approved": 3, "refunding": 4, "refunded": 5}
DONE_WITH_REVIEW = frozenset({"approved", "refunding", "refunded"})
RETRY_PAUSE_SECONDS = 1.0
POLL_SECONDS = 1.0


async def answered(
    call: Callable[[], Awaitable[httpx.Response]], what: str, within_seconds: float
) -> httpx.Response:
    """The first answer that is not 'try again later' (502/503/504, or no answer at all)."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    last = "nothing yet"
    while asyncio.get_running_loop().time() < deadline:
        try:
            response = await call()
            if response.status_code not in UNANSWERED:
                return response
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
    raise AssertionError(f"{what}: no answer within {within_seconds:.0f}s (last: {last})")


def refund_statuses(system: System, refund_ids: list[str]) -> dict[str, str]:
    """From the projection the API reads (one query for all: the API is busy enough)."""
    with system.sessions() as session:
        return dict(
            session.exec(select(Refund.id, Refund.status).where(col(Refund.id).in_(refund_ids))).all()
        )


class RefundTraffic:
    """Asks for every journey's refund, approves each once it awaits review, and waits until all are
    refunded. `progress` (0 to 1) says how far they have got together, for a test to break things at."""

    def __init__(
        self, system: System, journeys: list[Journey], lead: dict[str, str], concurrency: int = 8
    ) -> None:
        self.system = system
        self.journeys = journeys
        self.lead = lead
        self.calls = asyncio.Semaphore(concurrency)
        self.progress = 0.0
        self.statuses: dict[str, str] = {}
        self._moved = asyncio.Condition()
        self._approving: set[str] = set()  # refund ids with an approval call in flight

    @property
    def refunds(self) -> dict[str, str]:
        """refund id → student id, of those asked for so far."""
        return {j.refund_id: j.student_id for j in self.journeys if j.refund_id}

    async def run(self, within_seconds: float) -> None:
        try:
            async with asyncio.timeout(within_seconds), asyncio.TaskGroup() as calls:
                calls.create_task(self._ask_all())
                await self._follow(calls)
        except TimeoutError:
            raise AssertionError(
                f"not all refunds were refunded within {within_seconds:.0f}s: {self.report()}"
            ) from None

    async def reached(self, progress: float) -> None:
        """Until the refunds have come `progress` of their way together."""
        async with self._moved:
            await self._moved.wait_for(lambda: self.progress >= progress)

    def report(self) -> str:
        counts = Counter(self.statuses.get(j.refund_id or "", "not asked") for j in self.journeys)
        stuck = [j.refund_id for j in self.journeys if self.statuses.get(j.refund_id or "") != "refunded"]
        return f"{dict(counts)}; not refunded: {stuck[:10]}{'…' if len(stuck) > 10 else ''}"

    async def _ask_all(self) -> None:
        await asyncio.gather(*(self._ask(journey) for journey in self.journeys))

    async def _ask(self, journey: Journey) -> None:
        async with self.calls:
            response = await answered(
                lambda: self.system.api.post(
                    "/api/refunds",
                    headers=journey.student,
                    json={"order_id": journey.order_id, "reason": "时间冲突"},
                ),
                f"the refund request for {journey.order_id}",
                within_seconds=120,
            )
        if response.status_code == 409:  # an earlier try got through before its answer was lost
            journey.refund_id = response.json()["detail"]["refund_id"]
            return
        assert response.status_code == 202, response.text
        journey.refund_id = response.json()["refund_id"]

    async def _follow(self, calls: asyncio.TaskGroup) -> None:
        """Read where every refund is each second (so `progress` stays current however slowly the API
        answers), and approve each refund awaiting review, once at a time."""
        total = len(self.journeys)
        while True:
            asked = [j.refund_id for j in self.journeys if j.refund_id]
            self.statuses = refund_statuses(self.system, asked)
            self.progress = sum(STAGES.get(s, 0) for s in self.statuses.values()) / (len(STAGES) * total)
            async with self._moved:
                self._moved.notify_all()
            if len(asked) == total and all(s == "refunded" for s in self.statuses.values()):
                return
            for journey in self.journeys:
                status = self.statuses.get(journey.refund_id or "")
                if journey.approved or journey.refund_id in self._approving:
                    continue
                if status in DONE_WITH_REVIEW:  # approved by a call whose answer was lost
                    journey.approved = True
                elif status == "awaiting_review":
                    self._approving.add(journey.refund_id or "")
                    calls.create_task(self._approve(journey))
            await asyncio.sleep(POLL_SECONDS)

    async def _approve(self, journey: Journey) -> None:
        """One approval call; unless it answers 200 (or 202: taken, still being recorded), the state
        read a moment later says whether to ask again (409: decided already, or not yet awaiting
        review; 503 or no answer: try again)."""
        try:
            try:
                async with self.calls:
                    response = await self.system.api.post(
                        f"/api/refunds/{journey.refund_id}/decision",
                        headers=self.lead,
                        json={"decision": "approve", "reason": "同意"},
                    )
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code in (200, 202):
                journey.approved = True
                return
            if response is not None and response.status_code not in (409, *UNANSWERED):
                raise AssertionError(f"approving {journey.refund_id}: {response.status_code} {response.text}")
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        finally:
            self._approving.discard(journey.refund_id or "")


def complaint_stages(system: System, complaint_ids: list[str]) -> dict[str, str]:
    with system.sessions() as session:
        return dict(
            session.exec(
                select(Complaint.id, Complaint.stage).where(col(Complaint.id).in_(complaint_ids))
            ).all()
        )


@dataclass(frozen=True)
class ComplaintStep:
    """A person's action on a complaint, taken once the complaint is `at`; done once it is in `done`."""

    path: str  # under /api/complaints/{id}
    by: str  # "student" or "staff"
    body: dict
    at: str
    done: frozenset[str]


# Filed by the student, answered and resolved by a lead (who handles any complaint), the follow-up
# survey answered: the complaint is archived and its workflow ends (with complaint_follow_up_after_minutes=0).
COMPLAINT_STEPS = (
    ComplaintStep("/responses", "staff", {"text": "已为您切换到备用线路，请刷新后重试。"}, "assigned",
                  frozenset({"in_progress", "resolved", "follow_up", "archived"})),
    ComplaintStep("/resolution", "staff", {"code": "fixed", "summary": "已切换备用线路"}, "in_progress",
                  frozenset({"resolved", "follow_up", "archived"})),
    ComplaintStep("/survey", "student", {"satisfied": True}, "follow_up", frozenset({"archived"})),
)  # fmt: skip


class ComplaintTraffic:
    """Files one complaint per given student and takes each through COMPLAINT_STEPS to the archive."""

    def __init__(
        self, system: System, students: list[tuple[str, dict[str, str]]], staff: dict[str, str]
    ) -> None:
        """students: (student id, auth headers), once per complaint to file."""
        self.system = system
        self.students = students
        self.staff = staff
        self.complaints: dict[str, str] = {}  # complaint id → student id

    async def run(self, within_seconds: float) -> None:
        try:
            async with asyncio.timeout(within_seconds):
                await asyncio.gather(*(self._journey(*student) for student in self.students))
        except TimeoutError:
            stages = complaint_stages(self.system, list(self.complaints))
            counts = dict(Counter(stages.values()))
            raise AssertionError(
                f"not all complaints were archived within {within_seconds:.0f}s: {counts}"
            ) from None

    async def _journey(self, student_id: str, student: dict[str, str]) -> None:
        filed = await answered(
            lambda: self.system.api.post(
                "/api/complaints", headers=student, json={"text": "今晚的直播课一直卡顿，老师的声音断断续续"}
            ),
            "filing a complaint",
            within_seconds=120,
        )
        assert filed.status_code == 202, filed.text
        complaint_id = filed.json()["complaint_id"]
        self.complaints[complaint_id] = student_id
        for step in COMPLAINT_STEPS:
            headers = student if step.by == "student" else self.staff
            while (stage := complaint_stages(self.system, [complaint_id]).get(complaint_id)) not in step.done:
                if stage == step.at:
                    await self._act(complaint_id, step, headers)
                await asyncio.sleep(POLL_SECONDS)

    async def _act(self, complaint_id: str, step: ComplaintStep, headers: dict[str, str]) -> None:
        """200, 409 (taken already) and 503 (try again) are all judged by the stage read next. A 503
        may come after the action was taken: sent again, the same key takes it once."""
        key = {"Idempotency-Key": f"{complaint_id}{step.path.replace('/', ':')}"}
        try:
            response = await self.system.api.post(
                f"/api/complaints/{complaint_id}{step.path}", headers=headers | key, json=step.body
            )
        except httpx.TransportError:
            return
        if response.status_code not in (200, 409, *UNANSWERED):
            raise AssertionError(f"{step.path} on {complaint_id}: {response.status_code} {response.text}")
