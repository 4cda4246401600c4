"""A school's two years of after-sales, made up: deterministic from a seed, fast, and shaped like
what the running system writes.

Cases are lived through rather than drawn: every refund and complaint gets its whole lifecycle —
the steps its workflow records (workflows/refund.py, workflows/complaint.py), with plausible
delays — and the database holds the part of it that happened before the window ends. So recent
cases are still open and old ones settled without a status mix being forced, a projection row
always says what its last audit event says, and each case's events are numbered 1..n and
hash-chained exactly as domain/audit_chain.py does, so `python -m db.audit_log verify` passes.

Rows are tuples in column order. Times are naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff': the form
SQLAlchemy stores in SQLite, and one PostgreSQL's COPY reads in a UTC session, so one dataset loads
into both databases unchanged. JSON columns are JSON text.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import multiprocessing
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.audit_chain import hash_of
from domain.complaints import (
    DEFAULT_SLA,
    ComplaintCategory,
    ComplaintStage,
    IntakeChannel,
    ResolutionCode,
    Severity,
)
from domain.courses import CourseType, Gateway
from domain.money import fee_for
from domain.policy import DEFAULT_POLICIES, Eligibility, IneligibleReason, RefundPolicy
from domain.refunds import RELEASES_ORDER, RefundStatus
from domain.report_month import ReportMonth
from domain.roles import Role

PASSWORD = "bench-password"  # of the staff accounts the benchmark signs in with
LOGINS = {Role.LEAD: "bench-lead@bench.aftercare", Role.ADMIN: "bench-admin@bench.aftercare"}

# The student's pick from the refund form (domain.refund_reasons.RefundReasonCode on the refund
# report's branch), each with what students type beside it. Some texts name another topic than the
# code: the report sets the two side by side.
REFUND_REASONS: dict[str, tuple[str, ...]] = {
    "schedule_conflict": (
        "工作调动，上课时间冲突，没空上课",
        "最近加班太多，没有时间学习",
        "孩子课表调整了，时间不合适",
        "经常出差，直播课赶不上",
    ),
    "course_quality": (
        "课程内容太简单，没什么用",
        "内容与宣传不符",
        "讲得太难，听不懂",
        "课程质量一般，效果不好",
    ),
    "teacher": ("老师讲课不认真", "换了老师，孩子不适应", "班主任一直不回消息", "助教批改作业太慢"),
    "technical_problem": (
        "直播一直卡顿，根本上不了课",
        "App 在华为 P30 上闪退",
        "回放无法播放",
        "登录不上，验证码收不到",
    ),
    "price": ("同样的课现在降价了，想退差价", "价格太贵，超出预算", "别家有更大的优惠"),
    "bought_by_mistake": ("买错课程了", "不小心重复购买", "拍错了年级", "点错了，想买的是体验课"),
    "personal": ("家里有事，暂时学不了", "生病住院，无法继续学习", "要搬家出国了", "孩子没兴趣了"),
    "other": ("不想上了", "想先暂停一下", "其他原因", "说不清，就是想退"),
}
REFUND_REASON_WEIGHTS = (22, 18, 10, 12, 10, 9, 14, 5)

DECISION_REASONS_APPROVE = (
    "符合退款政策，同意退款",
    "课程尚未开始，同意全额退款",
    "经核实情况属实，同意退款",
)
DECISION_REASONS_REJECT = (
    "已超过退款期限",
    "课程已学习超过一半，不符合退款条件",
    "无法核实所述问题，请联系班主任",
    "优惠课程不支持退款",
)

# The student's words per category; classify() in domain.complaints finds these keywords.
COMPLAINT_TEXTS: dict[ComplaintCategory, tuple[str, ...]] = {
    ComplaintCategory.TECHNICAL: (
        "直播课一直卡顿，画面卡住好几次",
        "App 在华为 P30 上闪退，无法进入课堂",
        "回放视频无法播放",
        "登录时收不到验证码",
        "上课时老师没声音",
        "平板上白屏，加载不出来",
        "网络正常但直播一直缓冲",
    ),
    ComplaintCategory.COURSE_CONTENT: (
        "老师讲得太快，知识点没听懂",
        "作业批改有错误",
        "课件内容和教材不一致",
        "习题答案有错",
        "进度太快，孩子跟不上",
        "考试范围和讲解的内容不一样",
    ),
    ComplaintCategory.SERVICE_FEES: (
        "申请退款一直没人回",
        "发票一直没开",
        "班主任态度不好",
        "重复扣费了",
        "优惠券没有生效，多收费了",
        "客服电话打不通，没人回",
        "合同里写的服务没有兑现",
    ),
}
ESCALATION_WORDS = ("再不解决我就投诉到12315", "我要曝光", "已经找律师了")
# A lead's tag of what lay behind a complaint: few causes, many repeats, as in a real month.
ROOT_CAUSES: dict[ComplaintCategory, tuple[str, ...]] = {
    ComplaintCategory.TECHNICAL: (
        "华为 P30 闪退",
        "iOS 17 直播黑屏",
        "华南 CDN 节点卡顿",
        "短信验证码延迟",
        "回放转码失败",
        "安卓平板白屏",
    ),
    ComplaintCategory.COURSE_CONTENT: ("初三数学进度过快", "作业答案错误", "课件版本过旧", "老师讲解不清"),
    ComplaintCategory.SERVICE_FEES: (
        "退款审核超时",
        "发票开具延迟",
        "班主任未及时回复",
        "重复扣费",
        "优惠规则不清",
    ),
}
IMPROVEMENTS: dict[ComplaintCategory, tuple[tuple[str, str], ...]] = {  # (what, which team)
    ComplaintCategory.TECHNICAL: (
        ("修复并发布新版本", "技术部"), ("增加监控与告警", "技术部"), ("切换华南 CDN 节点", "技术部"),
    ),
    ComplaintCategory.COURSE_CONTENT: (
        ("更新课件并复核答案", "教研部"), ("调整教学进度", "教研部"), ("老师讲解培训", "教研部"),
    ),
    ComplaintCategory.SERVICE_FEES: (
        ("培训班主任响应流程", "客服部"), ("缩短退款审核时限", "财务部"), ("优化开票流程", "财务部"),
        ("在购买页写清优惠规则", "客服部"),
    ),
}  # fmt: skip
SURVEY_COMMENTS = ("问题解决了，谢谢", "处理得很及时", "还可以", "问题还是没解决", "等太久了")
AGENT_REPLIES = (
    "您好，已收到您的反馈，正在为您处理",
    "您好，我们已定位问题，请稍候",
    "您好，已为您转交相关老师",
)
SUMMARIES = {
    ResolutionCode.FIXED: "问题已修复，学员确认可以正常上课",
    ResolutionCode.EXPLAINED: "已向学员解释原因，学员表示理解",
    ResolutionCode.COMPENSATED: "已补偿优惠券，学员接受",
    ResolutionCode.REFUNDED: "已为学员办理退款",
    ResolutionCode.NOT_REPRODUCIBLE: "未能复现，已请学员再遇到时截图",
    ResolutionCode.DUPLICATE: "与之前的投诉重复，已合并处理",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "子涵",
    "一诺",
)
SUBJECTS = ("数学", "英语", "语文", "物理", "化学", "编程", "美术", "钢琴", "围棋", "口才")
LEVELS = ("小学", "初一", "初二", "初三", "高一", "高二", "高三", "成人")

# Shanghai hour of day → relative activity: evenings busiest, nights quiet.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 9, 10, 10, 10, 10, 11, 13, 14, 13, 9, 4)
SHANGHAI_OFFSET = timedelta(hours=8)  # no daylight saving in China

PRICES_FEN = {
    CourseType.TRIAL: (990, 1990, 2990, 4900),
    CourseType.REGULAR: (99_900, 199_900, 299_900, 399_900, 599_900),
    CourseType.PREMIUM: (1_299_900, 1_999_900, 2_999_900, 5_999_900),
}
REVIEW_GROUPS = {CourseType.TRIAL: "trial-courses", CourseType.REGULAR: "regular-courses"}
PREMIUM_GROUP = "premium-courses"
CONFIRMATION_FROM_FEN = DEFAULT_POLICIES[CourseType.REGULAR].manager_confirmation_from_fen or 0


@dataclass(frozen=True)
class Volumes:
    students: int
    courses: int
    orders: int
    refunds: int
    complaints: int
    audit_events: int  # half on refunds, half on complaints

    @classmethod
    def at_scale(cls, scale: float) -> Volumes:
        """The issue's volumes (200k refunds, 200k complaints, 2M audit events) times scale; never
        less than a handful of each, so a tiny run still has every kind of row."""

        def n(full: int, least: int) -> int:
            return max(least, round(full * scale))

        refunds, complaints = n(200_000, 10), n(200_000, 10)
        return cls(
            students=n(2_000, 20),
            courses=n(300, 12),
            orders=max(n(400_000, 20), refunds),  # one refund per order: a second waits for the first
            refunds=refunds,
            complaints=complaints,
            audit_events=5 * (refunds + complaints),  # the 2M at full scale
        )


@dataclass
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Dataset:
    seed: int
    volumes: Volumes
    months: list[ReportMonth]  # the window, oldest first
    tables: dict[str, Table]  # in an order the foreign keys accept
    sample_refund_ids: list[str]  # cases whose timelines are timed
    sample_complaint_ids: list[str]

    def count(self, table: str) -> int:
        return len(self.tables[table].rows)


def ts(moment: datetime) -> str:
    """A naive UTC datetime as stored (always with microseconds, as SQLAlchemy writes SQLite)."""
    return moment.isoformat(" ", "microseconds")


def window(end_month: ReportMonth, months: int) -> list[ReportMonth]:
    first = end_month
    for _ in range(months - 1):
        first = first.previous()
    result = [first]
    while result[-1] != end_month:
        result.append(result[-1].next())
    return result


class _Clock:
    """Instants in the window: the school grows (the last month sees about twice the first's
    cases) and people write in the daytime and evening, Beijing time."""

    def __init__(self, rng: random.Random, start: datetime, end: datetime) -> None:
        self.rng, self.start, self.end = rng, start, end
        self.days = (end - start).days

    def instant(self) -> datetime:
        rng = self.rng
        # Inverse CDF of a density rising linearly from 1 to 2 across the window.
        position = math.sqrt(1 + 3 * rng.random()) - 1
        day = min(int(position * self.days), self.days - 1)
        hour = _hour_of_day(rng)
        # start is Shanghai midnight of the first day, so hours count Shanghai time.
        return self.start + timedelta(days=day, hours=hour, milliseconds=rng.randrange(3_600_000))


def _weighted(items: Any, weights: Any) -> Callable[[random.Random], Any]:
    """rng.choices(items, weights)[0] without summing the weights on every call."""
    items, cumulative = list(items), list(itertools.accumulate(weights))

    def choose(rng: random.Random) -> Any:
        return items[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]

    return choose


_hour_of_day = _weighted(range(24), HOUR_WEIGHTS)
_resolution = _weighted(ResolutionCode, (30, 35, 12, 5, 12, 6))


def _hours(rng: random.Random, median: float, spread: float = 1.0) -> timedelta:
    """A log-normal delay: most near the median, a long tail of slow ones."""
    return timedelta(hours=median * math.exp(rng.gauss(0, spread)))


Step = tuple[datetime, str, str | None, str, str, dict[str, Any], dict[str, Any]]
# (at, event, status or stage (None: unchanged), actor, note, detail, projection fields it sets)


def _replay(first_status: str, steps: list[Step]) -> tuple[str, dict[str, Any]]:
    """The case's last status and the projection fields its steps set, in order, as the records
    activities write them."""
    status = first_status
    projected: dict[str, Any] = {}
    for _at, _event, to_status, _actor, _note, _detail, sets in steps:
        status = to_status or status
        projected.update(sets)
    projected["updated_at"] = steps[-1][0]
    return status, projected


def _chain_lengths(available: list[int], total: int) -> list[int]:
    """How many of its steps each case's audit chain keeps so that they add up to total: the first
    `cap` (at least one), one more for evenly spread cases that have it. A full complaint SOP is ~9
    steps and 2M events over 400k cases allow 5, so the whole lifecycle sets the projection row
    and the chain keeps its first steps."""
    if sum(available) <= total:
        return list(available)
    low, high = 1, max(available)  # the largest cap whose total fits
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(steps, middle) for steps in available) <= total:
            low = middle
        else:
            high = middle - 1
    lengths = [min(steps, low) for steps in available]
    extra = total - sum(lengths)
    longer = [index for index, steps in enumerate(available) if steps > low]
    for pick in range(min(extra, len(longer))):
        lengths[longer[pick * len(longer) // extra]] += 1
    return lengths


Life = tuple[str, str, str, str, list[Step]]  # case type, case id, workflow id, first status, steps


def _append_chains(lives: list[Life], total: int, out: list[tuple]) -> None:
    """The cases' audit rows, numbered, in case order; _hash_chains adds the hashes (the rows carry
    the time and detail as objects for it until then)."""
    for (case_type, case_id, workflow_id, status, steps), length in zip(
        lives, _chain_lengths([len(life[4]) for life in lives], total), strict=True
    ):
        for seq, (at, event, to_status, actor, note, detail, _sets) in enumerate(steps[:length], start=1):
            from_status, status = status, to_status or status
            out.append(
                (f"{workflow_id}:{seq}:{event}", case_type, case_id, event, actor, from_status, status, note,
                 json.dumps(detail, ensure_ascii=False) if detail else "{}", ts(at), seq, at, detail)
            )  # fmt: skip


PARALLEL_FROM = 100_000  # rows; below it, forking costs more than it saves
_PENDING: list[tuple] = []  # the rows being hashed, shared with the forked workers


def _digests(bounds: tuple[int, int]) -> bytes:
    """The hex digests of _PENDING[start:end], which starts at a case's first event."""
    digests = bytearray()
    prev_hash: str | None = None
    for row in _PENDING[bounds[0] : bounds[1]]:
        if row[10] == 1:
            prev_hash = None
        event = {
            "event_key": row[0], "case_type": row[1], "case_id": row[2], "event": row[3], "actor": row[4],
            "from_status": row[5], "to_status": row[6], "note": row[7], "seq": row[10],
            "at": row[11],  # naive UTC: the chain reads it as UTC, as it does SQLite's
            "detail": row[12],
        }  # fmt: skip
        prev_hash = hash_of(event, prev_hash)
        digests += prev_hash.encode()
    return bytes(digests)


def _hash_chains(rows: list[tuple], workers: int) -> None:
    """Give every row its prev_hash and hash (domain.audit_chain.hash_of), in place. Hashing is
    most of the generator's time, so it is spread over forked workers by runs of whole cases."""
    global _PENDING
    size = max(1, len(rows) // (workers * 8))
    cuts = [0]
    for index in range(size, len(rows), size):
        while index < len(rows) and rows[index][10] != 1:
            index += 1
        if cuts[-1] < index < len(rows):
            cuts.append(index)
    ranges = list(zip(cuts, [*cuts[1:], len(rows)], strict=True))
    _PENDING = rows
    try:
        if workers <= 1 or len(rows) < PARALLEL_FROM:
            blobs = [_digests(bounds) for bounds in ranges]
        else:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                blobs = pool.map(_digests, ranges)
    finally:
        _PENDING = []
    digests = b"".join(blobs)
    for index, row in enumerate(rows):
        prev_hash = None if row[10] == 1 else digests[64 * (index - 1) : 64 * index].decode()
        rows[index] = (*row[:11], prev_hash, digests[64 * index : 64 * (index + 1)].decode())


AUDIT_COLUMNS = (
    "event_key", "case_type", "case_id", "event", "actor", "from_status", "to_status", "note", "detail",
    "at", "seq", "prev_hash", "hash",
)  # fmt: skip


def generate(
    volumes: Volumes, *, seed: int, end_month: ReportMonth, months: int = 24, workers: int | None = None
) -> Dataset:
    """The dataset for the months up to end_month. The same seed, volumes and end month make the
    same rows, on any machine and however many workers hash them."""
    rng = random.Random(seed)
    span = window(end_month, months)
    start = span[0].start.astimezone(UTC).replace(tzinfo=None)
    now = end_month.end.astimezone(UTC).replace(tzinfo=None)  # the data's "now": the window's end
    clock = _Clock(rng, start, now)
    tables: dict[str, Table] = {}
    audit = Table(AUDIT_COLUMNS)
    refund_lives: list[Life] = []
    complaint_lives: list[Life] = []

    # --- people ----------------------------------------------------------------------------------
    from api.security import hash_password  # argon2: imported only when a dataset is made

    users = tables["users"] = Table(
        ("id", "email", "display_name", "role", "password_hash", "locale", "phone", "is_vip",
         "muted_channels", "wechat_openid", "wechat_oa_openid", "is_active", "merged_into", "created_at"),
    )  # fmt: skip
    long_ago = ts(start - timedelta(days=400))
    students = [f"ST{index:06d}" for index in range(volumes.students)]
    vip = set()
    for index, student in enumerate(students):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
        is_vip = rng.random() < 0.03
        if is_vip:
            vip.add(student)
        users.rows.append(
            (student, f"student{index:06d}@bench.aftercare", name, Role.STUDENT.value, None,
             "zh-CN" if rng.random() < 0.95 else "en", f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
             is_vip, "[]", f"o{rng.getrandbits(96):024x}" if rng.random() < 0.6 else None, None, True, None,
             long_ago)
        )  # fmt: skip
    staff: dict[Role, list[str]] = {}
    for role, count in ((Role.REVIEWER, 12), (Role.AGENT, 24), (Role.LEAD, 4), (Role.FINANCE, 3)):
        staff[role] = [f"{role.value[:2].upper()}{index:03d}" for index in range(count)]
        for user_id in staff[role]:
            users.rows.append(
                (user_id, f"{user_id.lower()}@bench.aftercare", f"{role.value} {user_id}", role.value, None,
                 "zh-CN", None, False, "[]", None, None, True, None, long_ago)
            )  # fmt: skip
    password_hash = hash_password(PASSWORD)
    for role, email in LOGINS.items():
        users.rows.append(
            (f"BENCH-{role.value.upper()}", email, f"bench {role.value}", role.value, password_hash, "zh-CN",
             None, False, "[]", None, None, True, None, long_ago)
        )  # fmt: skip
    reviewers, agents, leads, finance = (
        staff[Role.REVIEWER],
        staff[Role.AGENT],
        staff[Role.LEAD],
        staff[Role.FINANCE],
    )
    departments = {terms.department: [] for terms in DEFAULT_SLA.values()}
    for index, agent in enumerate(agents):
        list(departments.values())[index % len(departments)].append(agent)
    tables["department_members"] = Table(
        ("department", "user_id"),
        [(department.value, agent) for department, members in departments.items() for agent in members],
    )
    groups = ("trial-courses", "regular-courses", "premium-courses", "vip-desk")
    tables["reviewer_group_members"] = Table(
        ("group_id", "user_id"), [(groups[index % len(groups)], user) for index, user in enumerate(reviewers)]
    )

    # --- courses and orders ----------------------------------------------------------------------
    courses = tables["courses"] = Table(("id", "name", "type", "starts_at", "updated_at"))
    catalogue: list[tuple[str, str, CourseType, int]] = []  # id, name, type, price
    for index in range(volumes.courses):
        kind = rng.choices(list(CourseType), weights=(20, 60, 20))[0]
        label = {
            CourseType.TRIAL: "体验课",
            CourseType.REGULAR: "系统课",
            CourseType.PREMIUM: "一对一精品课",
        }[kind]
        name = f"{rng.choice(LEVELS)}{rng.choice(SUBJECTS)}{label}（第{index % 9 + 1}期）"
        course_id = f"CR{index:05d}"
        catalogue.append((course_id, name, kind, rng.choice(PRICES_FEN[kind])))
        courses.rows.append((course_id, name, kind.value, ts(clock.instant()), long_ago))
    # Refunds come mostly from the regular courses; a trial is seldom worth asking about.
    refund_course = _weighted(
        catalogue,
        [{CourseType.TRIAL: 1, CourseType.REGULAR: 6, CourseType.PREMIUM: 4}[c[2]] for c in catalogue],
    )

    orders = tables["orders"] = Table(
        ("id", "student_id", "course_id", "amount_paid_fen", "paid_at", "gateway", "gateway_trade_no",
         "contract_refund_deadline", "contract_fee_bp", "updated_at"),
    )  # fmt: skip
    order_count = 0

    def add_order(paid_at: datetime, course: tuple[str, str, CourseType, int]) -> tuple:
        nonlocal order_count
        order_count += 1
        paid = course[3] if rng.random() < 0.8 else course[3] * rng.choice((80, 90, 95)) // 100
        deadline, fee_bp = None, None
        if course[2] is CourseType.PREMIUM and rng.random() < 0.97:  # a few contracts lack their terms
            deadline, fee_bp = ts(paid_at + timedelta(days=30)), rng.choice((1_000, 2_000, 3_000))
        row = (
            f"OD{paid_at:%Y%m%d}{order_count:08d}", rng.choice(students), course[0], paid, ts(paid_at),
            rng.choice((Gateway.WECHATPAY.value, Gateway.WECHATPAY.value, Gateway.ALIPAY.value)),
            f"T{rng.getrandbits(64):020d}", deadline, fee_bp, ts(paid_at),
        )  # fmt: skip
        orders.rows.append(row)
        return row

    # --- refunds ---------------------------------------------------------------------------------
    refunds = tables["refunds"] = Table(
        ("id", "workflow_id", "order_id", "active_order_id", "student_id", "course_id", "course_name",
         "course_type", "gateway", "status", "reason", "reason_code", "amount_paid_fen", "requested_fen",
         "fee_fen", "refund_amount_fen", "eligibility", "ineligible_reason", "needs_manager_confirmation",
         "policy_version", "policy", "review_group", "assigned_reviewer_id", "assigned_at", "review_due_at",
         "decision_reason", "decided_by", "gateway_refund_id", "requested_at", "decided_at", "refunded_at",
         "updated_at"),
    )  # fmt: skip
    policies = {
        kind: json.dumps(
            RefundPolicy(course_type=kind, version=1, **terms.model_dump()).model_dump(mode="json")
        )
        for kind, terms in DEFAULT_POLICIES.items()
    }
    codes = list(REFUND_REASONS)
    reason_code = _weighted(codes, REFUND_REASON_WEIGHTS)
    # The reason list came a quarter into the window; earlier refunds have none.
    codes_from = start + (now - start) / 4
    ids: set[str] = set()

    def case_id(prefix: str, moment: datetime) -> str:
        while True:  # RF/CP + Shanghai date + 10 hex digits, as the API makes them
            candidate = f"{prefix}{moment + SHANGHAI_OFFSET:%Y%m%d}{rng.getrandbits(40):010X}"
            if candidate not in ids:
                ids.add(candidate)
                return candidate

    for requested_at in sorted(clock.instant() for _ in range(volumes.refunds)):
        course = refund_course(rng)
        course_id, course_name, kind, _price = course
        paid_at = requested_at - min(_hours(rng, 72, 1.2), timedelta(days=120)) - timedelta(minutes=10)
        order = add_order(paid_at, course)
        order_id, student, paid = order[0], order[1], order[3]
        refund_id = case_id("RF", requested_at)
        workflow_id = f"refund-{refund_id}"
        code = reason_code(rng)
        # Now and then the words are about something else than the code picked.
        said = code if rng.random() < 0.8 else rng.choice(codes)
        reason = rng.choice(REFUND_REASONS[said])
        requested = paid if rng.random() < 0.88 else max(1, paid * rng.randrange(30, 95) // 100)
        if kind is CourseType.PREMIUM:
            fee_bp = order[8] or 0
        else:
            fee_bp = DEFAULT_POLICIES[kind].fee_bp or 0
        fee = fee_for(requested, fee_bp)
        refund_amount = requested - fee
        eligibility, ineligible = Eligibility.ELIGIBLE, None
        if kind is CourseType.PREMIUM and order[7] is None:
            eligibility, ineligible = Eligibility.EXCEPTION, IneligibleReason.CONTRACT_TERMS_MISSING
        elif rng.random() < 0.09:  # asked too late: premium goes to a reviewer, the rest are refused
            ineligible = IneligibleReason.OUTSIDE_WINDOW
            eligibility = Eligibility.EXCEPTION if kind is CourseType.PREMIUM else Eligibility.INELIGIBLE
        confirm = kind is CourseType.PREMIUM or refund_amount >= CONFIRMATION_FROM_FEN
        group = PREMIUM_GROUP if confirm else REVIEW_GROUPS.get(kind, PREMIUM_GROUP)
        if student in vip:
            group = "vip-desk"
        gateway = order[5]

        steps: list[Step] = [
            (requested_at, "refund.requested", None, student, reason,
             {"eligibility": eligibility.value, "policy_version": 1}, {}),
        ]  # fmt: skip
        at = requested_at + timedelta(milliseconds=rng.randrange(200, 2_000))
        if eligibility is Eligibility.INELIGIBLE:
            text = "已超过退款期限" if ineligible is IneligibleReason.OUTSIDE_WINDOW else "没有可退的金额"
            steps.append(
                (at, "review.rejected_by_policy", RefundStatus.REJECTED.value, "policy", text, {},
                 {"decision_reason": text, "decided_by": "policy", "decided_at": at})
            )  # fmt: skip
        else:
            reviewer = rng.choice(reviewers)
            due = at + timedelta(hours=48)
            note = "" if ineligible is None else f"exception: {ineligible.value}"
            steps.append(
                (at, "review.awaiting", RefundStatus.AWAITING_REVIEW.value, "system", note,
                 {"group": group, "reviewer": reviewer},
                 {"review_group": group, "assigned_reviewer_id": reviewer, "assigned_at": at,
                  "review_due_at": due})
            )  # fmt: skip
            took = _hours(rng, 8, 1.1)
            if took > timedelta(hours=24):
                steps.append(
                    (at + timedelta(hours=24), "review.reminder", None, "system", "review SLA", {}, {})
                )  # fmt: skip
            if took > timedelta(hours=48):
                steps.append(
                    (due, "review.escalated", None, "system",
                     f"review overdue since {due.isoformat()}+00:00; escalated to a lead", {}, {})
                )  # fmt: skip
            at += took
            approve = rng.random() < (0.55 if ineligible else 0.86)
            decider = reviewer if took <= timedelta(hours=48) else rng.choice(leads)
            decision = rng.choice(DECISION_REASONS_APPROVE if approve else DECISION_REASONS_REJECT)
            steps.append(
                (at, "review.approved" if approve else "review.rejected",
                 (RefundStatus.APPROVED if approve else RefundStatus.REJECTED).value, decider, decision, {},
                 {"decision_reason": decision, "decided_by": decider, "decided_at": at})
            )  # fmt: skip
            if approve:
                _pay_out(rng, steps, at, confirm, refund_id, gateway, leads, finance)

        kept = list(itertools.takewhile(lambda step: step[0] < now, steps))
        refund_lives.append(("refund", refund_id, workflow_id, RefundStatus.REQUESTED.value, kept))
        status, projected = _replay(RefundStatus.REQUESTED.value, kept)

        def when(name: str, projected: dict[str, Any] = projected) -> str | None:
            value = projected.get(name)
            return ts(value) if value is not None else None

        refunds.rows.append(
            (refund_id, workflow_id, order_id, None if status in RELEASES_ORDER else order_id, student,
             course_id, course_name, kind.value, gateway, status, reason,
             code if requested_at >= codes_from else None, paid, requested, fee, refund_amount,
             eligibility.value, ineligible.value if ineligible else None, confirm, 1, policies[kind],
             projected.get("review_group"), projected.get("assigned_reviewer_id"), when("assigned_at"),
             when("review_due_at"), projected.get("decision_reason"), projected.get("decided_by"),
             projected.get("gateway_refund_id"), ts(requested_at), when("decided_at"), when("refunded_at"),
             when("updated_at"))
        )  # fmt: skip

    # Orders nobody asked to refund, paid across the window.
    while order_count < volumes.orders:
        add_order(clock.instant(), rng.choice(catalogue))

    # --- complaints ------------------------------------------------------------------------------
    complaints = tables["complaints"] = Table(
        ("id", "workflow_id", "student_id", "channel", "text", "order_id", "logged_by", "stage", "category",
         "severity", "department", "assigned_to", "first_response_due_at", "resolution_due_at",
         "first_responded_at", "resolved_at", "resolution_code", "resolution_summary", "satisfied",
         "sla_breached", "root_cause", "root_cause_by", "root_cause_at", "received_at", "updated_at"),
    )  # fmt: skip
    orders_of: dict[str, list[tuple[str, str]]] = {}  # student → (paid at, order id), in time order
    for order in sorted(orders.rows, key=lambda order: order[4]):
        orders_of.setdefault(order[1], []).append((order[4], order[0]))
    pick_channel = _weighted(IntakeChannel, (40, 20, 10, 20, 10))
    categories = list(ComplaintCategory)
    pick_category = _weighted(categories, (45, 25, 30))
    # Zipf-like: the first cause of a category is tagged most, so the report's top causes repeat.
    pick_cause = {
        category: _weighted(causes, [1 / (rank + 1) for rank in range(len(causes))])
        for category, causes in ROOT_CAUSES.items()
    }
    for received_at in sorted(clock.instant() for _ in range(volumes.complaints)):
        complaint_id = case_id("CP", received_at)
        workflow_id = f"complaint-{complaint_id}"
        student = rng.choice(students)
        channel = pick_channel(rng)
        category = pick_category(rng)
        text = rng.choice(COMPLAINT_TEXTS[category])
        severity = Severity.HIGH if rng.random() < 0.3 else Severity.NORMAL
        if rng.random() < 0.04:
            text, severity = f"{text}，{rng.choice(ESCALATION_WORDS)}", Severity.URGENT
        if channel is IntakeChannel.PHONE and severity is Severity.NORMAL:
            severity = Severity.HIGH
        if rng.random() < 0.05:
            severity = Severity.LOW  # an agent's override of the triage
        terms = DEFAULT_SLA[category]
        department = terms.department
        agent = rng.choice(departments[department])
        logged_by = rng.choice(agents) if channel is IntakeChannel.PHONE else student
        # A third name an order: one the student had paid for by then.
        history = orders_of.get(student, [])
        bought = history[: bisect.bisect_left(history, (ts(received_at),))]
        order_id = rng.choice(bought)[1] if bought and rng.random() < 0.3 else None
        first_due = received_at + timedelta(minutes=terms.first_response_minutes)
        resolution_due = received_at + timedelta(minutes=terms.resolution_minutes)
        steps = _complaint_life(
            rng, received_at, channel, category, severity, text, logged_by, student, agent, leads,
            first_due, resolution_due, terms.resolution_minutes,
        )  # fmt: skip
        kept = list(itertools.takewhile(lambda step: step[0] < now, steps))
        complaint_lives.append(("complaint", complaint_id, workflow_id, ComplaintStage.RECEIVED.value, kept))
        stage, projected = _replay(ComplaintStage.RECEIVED.value, kept)
        resolved_at = projected.get("resolved_at")
        root_cause = root_cause_by = root_cause_at = None
        if resolved_at is not None and rng.random() < 0.5:  # a lead tagged what lay behind it
            root_cause = pick_cause[category](rng)
            root_cause_by = rng.choice(leads)
            root_cause_at = ts(min(resolved_at + _hours(rng, 20), now - timedelta(seconds=1)))

        def when(name: str, projected: dict[str, Any] = projected) -> str | None:
            value = projected.get(name)
            return ts(value) if value is not None else None

        complaints.rows.append(
            (complaint_id, workflow_id, student, channel.value, text, order_id, logged_by, stage,
             projected.get("category"), projected.get("severity"), projected.get("department"),
             projected.get("assigned_to"), when("first_response_due_at"), when("resolution_due_at"),
             when("first_responded_at"), when("resolved_at"), projected.get("resolution_code"),
             projected.get("resolution_summary"), projected.get("satisfied"),
             projected.get("sla_breached", False), root_cause, root_cause_by, root_cause_at,
             ts(received_at), when("updated_at"))
        )  # fmt: skip

    # --- what the leads will do about it, a few per category and month ---------------------------
    actions = tables["improvement_actions"] = Table(
        ("month", "category", "root_cause", "action", "owner", "status", "created_by", "created_at",
         "updated_by", "updated_at"),
    )  # fmt: skip
    for month in span:
        written = ts(month.end.astimezone(UTC).replace(tzinfo=None) - timedelta(days=2))
        for category in categories:
            for _ in range(rng.randint(2, 6)):
                lead = rng.choice(leads)
                actions.rows.append(
                    (str(month), category.value, rng.choice((*ROOT_CAUSES[category], None)),
                     *rng.choice(IMPROVEMENTS[category]),
                     "done" if month != end_month else rng.choice(("planned", "in_progress")), lead, written,
                     lead, written)
                )  # fmt: skip

    _append_chains(refund_lives, volumes.audit_events // 2, audit.rows)
    _append_chains(complaint_lives, volumes.audit_events - volumes.audit_events // 2, audit.rows)
    del refund_lives, complaint_lives
    _hash_chains(audit.rows, workers or os.cpu_count() or 1)
    tables["audit_events"] = audit
    # Timelines to time: the longest chain of each kind, and one from the middle of the window.
    return Dataset(
        seed=seed,
        volumes=volumes,
        months=span,
        tables=tables,
        sample_refund_ids=_samples(refunds.rows, audit.rows, "refund"),
        sample_complaint_ids=_samples(complaints.rows, audit.rows, "complaint"),
    )


def _pay_out(
    rng: random.Random,
    steps: list[Step],
    at: datetime,
    confirm: bool,
    refund_id: str,
    gateway: str,
    leads: list[str],
    finance: list[str],
) -> None:
    """After approval: the manager's call where needed, then the gateway, then the enrollment."""
    if confirm:
        at += timedelta(seconds=1)
        steps.append(
            (at, "confirmation.awaiting", RefundStatus.AWAITING_CONFIRMATION.value, "system",
             "an account manager will phone the student before the refund is paid", {}, {})
        )  # fmt: skip
        took = _hours(rng, 10, 1.0)
        for count in range(1, min(int(took / timedelta(hours=24)), 5) + 1):
            steps.append(
                (at + timedelta(hours=24 * count), "confirmation.reminder", None, "system",
                 f"reminder {count}: nobody has reported the call to the student yet", {}, {})
            )  # fmt: skip
        at += took
        manager = rng.choice(leads)
        if rng.random() < 0.12:
            steps.append(
                (at, "confirmation.withdrawn", RefundStatus.WITHDRAWN.value, manager,
                 "学员电话中表示不退了", {}, {})
            )  # fmt: skip
            return
        steps.append(
            (at, "confirmation.confirmed", RefundStatus.APPROVED.value, manager,
             "已电话确认，学员坚持退款", {}, {})
        )  # fmt: skip
    at += timedelta(seconds=rng.uniform(1, 30))
    gateway_refund_id = f"50{rng.getrandbits(80):026d}"[:28]
    steps.append(
        (at, "gateway.requested", RefundStatus.REFUNDING.value, "system", "", {},
         {"gateway_refund_id": gateway_refund_id})
    )  # fmt: skip
    at += _hours(rng, 0.05, 1.5)
    if rng.random() < 0.985:
        paid = at.replace(microsecond=0)  # a gateway's clock says seconds
        steps.append(
            (paid, "gateway.succeeded", RefundStatus.REFUNDED.value, gateway, "", {"source": "callback"},
             {"refunded_at": paid})
        )  # fmt: skip
    else:  # the bank bounced it: finance pays by transfer, or it is still open
        outcome = rng.choice(("abnormal", "closed"))
        steps.append(
            (at, f"gateway.{outcome}", RefundStatus.REFUND_FAILED.value, gateway,
             f"the gateway reported {outcome}", {"source": "query"}, {})
        )  # fmt: skip
        task = f"FT-{refund_id}-1"
        at += timedelta(seconds=1)
        steps.append(
            (at, "finance.task_opened", None, "system", f"the gateway reported {outcome}",
             {"task_id": task, "kind": f"gateway_{outcome}"}, {})
        )  # fmt: skip
        at += _hours(rng, 40, 1.0)
        reference = f"BANK{rng.getrandbits(40):012d}"
        steps.append(
            (at, "finance.paid_offline", RefundStatus.REFUNDED.value, rng.choice(finance),
             f"transfer {reference}", {"task_id": task, "reference": reference}, {"refunded_at": at})
        )  # fmt: skip
    steps.append((at + timedelta(seconds=2), "enrollment.revoked", None, "commerce", "", {}, {}))


def _complaint_life(
    rng: random.Random,
    received_at: datetime,
    channel: IntakeChannel,
    category: ComplaintCategory,
    severity: Severity,
    text: str,
    logged_by: str,
    student: str,
    agent: str,
    leads: list[str],
    first_due: datetime,
    resolution_due: datetime,
    resolution_minutes: int,
) -> list[Step]:
    """The SOP end to end: intake, first response, resolution, follow-up survey, archive; with the
    SLA clocks' warnings and breaches where the delays drawn run past them."""
    stage = ComplaintStage
    at = received_at
    steps: list[Step] = [
        (at, "complaint.received", stage.RECEIVED.value, logged_by, text, {"channel": channel.value}, {}),
    ]

    def later(seconds: float) -> datetime:
        return at + timedelta(seconds=seconds)

    at = later(rng.uniform(0.3, 2))
    steps.append(
        (at, "complaint.triaged", stage.TRIAGED.value, "system", "", {},
         {"category": category.value, "severity": severity.value,
          "department": DEFAULT_SLA[category].department.value,
          "first_response_due_at": first_due, "resolution_due_at": resolution_due})
    )  # fmt: skip
    at = later(rng.uniform(0.2, 1))
    steps.append((at, "complaint.assigned", stage.ASSIGNED.value, "system", "", {}, {"assigned_to": agent}))
    first_window = first_due - received_at
    responded = max(received_at + first_window * math.exp(rng.gauss(-0.6, 0.6)), later(5))
    resolved = max(responded, received_at) + timedelta(minutes=resolution_minutes) * math.exp(
        rng.gauss(-0.9, 0.7)
    )
    breached = False
    timed: list[Step] = []  # the clocks' steps, merged in by time below
    for kind, started, due, done in (
        ("first_response", received_at, first_due, responded),
        ("resolution", received_at, resolution_due, resolved),
    ):
        warning = started + (due - started) * 0.8
        if done > warning:
            timed.append(
                (warning, f"sla.{kind}.warning", None, "system", f"due {due.isoformat()}+00:00", {}, {})
            )
        if done > due:
            if not breached:
                severity = severity.raised()
            breached = True
            timed.append(
                (due, f"sla.{kind}.breached", None, "system",
                 f"due {due.isoformat()}+00:00; escalated to a lead", {},
                 {"severity": severity.value, "sla_breached": True})
            )  # fmt: skip
    asks = rng.random() < 0.15
    first_event = "agent.asked_customer" if asks else "agent.replied"
    timed.append(
        (responded, first_event, (stage.AWAITING_CUSTOMER if asks else stage.IN_PROGRESS).value, agent,
         rng.choice(AGENT_REPLIES), {}, {"first_responded_at": responded})
    )  # fmt: skip
    if asks:
        answered = responded + (resolved - responded) * rng.uniform(0.1, 0.5)
        timed.append(
            (answered, "customer.replied", stage.IN_PROGRESS.value, student, "补充：截图已上传", {}, {})
        )
    if rng.random() < 0.2:
        noted = responded + (resolved - responded) * rng.uniform(0.5, 0.9)
        timed.append((noted, "agent.note", None, agent, "已联系技术同事排查", {}, {}))
    timed.sort(key=lambda step: step[0])
    steps.extend(timed)

    code = _resolution(rng)
    resolve: Callable[[datetime], Step] = lambda when: (  # noqa: E731
        when, "complaint.resolved", stage.RESOLVED.value, agent, SUMMARIES[code], {"code": code.value},
        {"resolved_at": when, "resolution_code": code.value, "resolution_summary": SUMMARIES[code]},
    )  # fmt: skip
    steps.append(resolve(resolved))
    at = resolved
    # Unsatisfied answers reopen the complaint; the second time round it is let go.
    for round_ in range(2):
        at += timedelta(hours=72)
        steps.append((at, "complaint.follow_up", stage.FOLLOW_UP.value, "system", "", {}, {}))
        if rng.random() < 0.55:
            at += _hours(rng, 20, 1.0)
            satisfied = round_ > 0 or rng.random() < 0.85
            comment = rng.choice(SURVEY_COMMENTS[:3] if satisfied else SURVEY_COMMENTS[3:])
            steps.append(
                (at, "survey.answered", None, student, comment, {}, {"satisfied": satisfied})
            )  # fmt: skip
            if not satisfied:
                at += timedelta(milliseconds=rng.randrange(100, 900))
                steps.append((at, "complaint.reopened", stage.IN_PROGRESS.value, student, comment, {}, {}))
                at += _hours(rng, 6, 1.0)
                steps.append(resolve(at))
                continue
        else:
            at += timedelta(days=7)
            steps.append((at, "survey.unanswered", None, "system", "", {}, {}))
        break
    at += timedelta(milliseconds=rng.randrange(100, 900))
    steps.append((at, "complaint.archived", stage.ARCHIVED.value, "system", "", {}, {}))
    return steps


def _samples(case_rows: list[tuple], audit_rows: list[tuple], case_type: str) -> list[str]:
    lengths: dict[str, int] = {}
    for row in audit_rows:
        if row[1] == case_type:
            lengths[row[2]] = row[10]  # seq: the last one seen is the chain's length
    longest = max(lengths, key=lambda case: (lengths[case], case))
    middle = case_rows[len(case_rows) // 2][0]
    latest = case_rows[-1][0]
    return list(dict.fromkeys((longest, middle, latest)))
