"""The monthly complaint report against figures worked out by hand from small fixtures: months in
Beijing time at both ends, a category up exactly 15 % (a spike) and one up 14 % (not), a category
from none, SLA met, missed and left out, survey answers, a root cause spelled four ways, the CSV,
and who may read it."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.pages.i18n import MESSAGES
from api.services.complaint_report import complaint_report, spreadsheet_safe
from db.engine import SessionFactory
from db.models import Complaint, User
from domain.complaint_report import ImprovementStatus, SpikeKind
from domain.report_month import ReportMonth
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user

MARCH, APRIL = ReportMonth(2026, 3), ReportMonth(2026, 4)
END_OF_MARCH = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # April 1st, 00:00 in Beijing
TEN = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing, March 10th


def at(hours: float, day: datetime = TEN) -> datetime:
    return day + timedelta(hours=hours)


def complaint(student: User, received_at: datetime, category: str | None, **columns: Any) -> Complaint:
    complaint_id = f"CPT{secrets.token_hex(5).upper()}"
    return Complaint(
        id=complaint_id,
        workflow_id=f"complaint-{complaint_id}",
        student_id=student.id,
        channel="web_form",
        text="测试投诉",
        logged_by=student.id,
        stage=columns.pop("stage", "assigned"),
        category=category,
        received_at=received_at,
        **columns,
    )


@pytest.fixture(scope="module")
def lead(api_sessions: SessionFactory) -> User:
    return make_user(api_sessions, Role.LEAD)


@pytest.fixture(scope="module")
def march(api: TestClient, api_sessions: SessionFactory, lead: User) -> dict[str, str]:
    """February: technical 20, course content 50. March: technical 23 (+15 %), course content 57
    (+14 %), service & fees 6 (from none), one not triaged yet. April: one technical."""
    student = make_user(api_sessions, Role.STUDENT)
    late_in_month = datetime(2026, 3, 31, 15, 55, tzinfo=UTC)  # 23:55 Beijing, March 31st
    sla = {
        # technical. first response: met t1, t2 (at the due minute), t8 (by resolving); missed t3
        # (late), t4 (never, due passed); left out t5, t7 (due after the month). Resolution: met t8;
        # missed t1 (late), t2 (reopened, the new deadline passed), t4; left out t3 (paused), t5, t7.
        "t1": complaint(
            student, TEN, "technical", stage="archived", first_response_due_at=at(1 / 6),
            first_responded_at=at(1 / 12), resolution_due_at=at(2), resolved_at=at(3), satisfied=True,
            root_cause="Huawei P30 闪退",
        ),
        "t2": complaint(
            student, TEN, "technical", stage="in_progress", first_response_due_at=at(1 / 6),
            first_responded_at=at(1 / 6), resolved_at=at(1), resolution_due_at=at(10), satisfied=False,
            root_cause="Huawei P30 闪退",
        ),
        "t3": complaint(
            student, TEN, "technical", stage="awaiting_customer", first_response_due_at=at(1 / 6),
            first_responded_at=at(1 / 3), resolution_due_at=at(2),
        ),
        "t4": complaint(
            student, TEN, "technical", first_response_due_at=at(1 / 6), resolution_due_at=at(2)
        ),
        "t5": complaint(
            student, late_in_month, "technical", first_response_due_at=at(1 / 6, late_in_month),
            resolution_due_at=at(2, late_in_month),
        ),
        "t7": complaint(
            student, late_in_month, "technical", stage="in_progress",
            first_response_due_at=at(1 / 6, late_in_month), first_responded_at=at(7 / 60, late_in_month),
            resolution_due_at=at(2, late_in_month),
        ),
        "t8": complaint(
            student, TEN, "technical", stage="archived", first_response_due_at=at(1 / 6),
            resolved_at=at(2 / 15), resolution_due_at=at(2), satisfied=True,
        ),
        # course content: both clocks met, satisfied.
        "c1": complaint(
            student, TEN, "course_content", stage="follow_up", first_response_due_at=at(0.5),
            first_responded_at=at(0.25), resolution_due_at=at(24), resolved_at=at(1), satisfied=True,
        ),
    }  # fmt: skip
    rows = list(sla.values())
    # The month's edges, in Beijing time: 23:30 on March 31st is March's, 00:10 on April 1st is not;
    # 00:00 on March 1st is March's, 23:59:59 on February 28th is February's.
    edges = {
        "last_minute_of_march": complaint(student, datetime(2026, 3, 31, 15, 30, tzinfo=UTC), "technical"),
        "first_of_april": complaint(student, datetime(2026, 3, 31, 16, 10, tzinfo=UTC), "technical"),
        "first_of_march": complaint(student, datetime(2026, 2, 28, 16, 0, tzinfo=UTC), "technical"),
        "last_of_february": complaint(student, datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC), "technical"),
    }
    rows += edges.values()
    tags = [
        *[
            ("technical", tag)
            for tag in ("登录验证码收不到", "登录验证码收不到", "直播 CDN 故障", "回放加载慢")
        ],
        *[("course_content", tag) for tag in ("高阶算法预备知识",) * 3 + ("huawei P30 闪退",)],
        *[("service_fees", "退款流程说明不清")] * 2,
    ]
    march_day = at(24 * 5)
    rows += [complaint(student, march_day, category, root_cause=tag) for category, tag in tags]
    counted = {"technical": 23, "course_content": 57, "service_fees": 6}
    for category, total in counted.items():
        already = sum(
            1 for row in rows if row.category == category and MARCH.start <= row.received_at < MARCH.end
        )
        rows += [complaint(student, march_day, category) for _ in range(total - already)]
    rows.append(complaint(student, march_day, None, stage="received"))  # not triaged yet
    february = at(-24 * 20)
    rows += [complaint(student, february, "technical") for _ in range(19)]  # and last_of_february
    rows += [complaint(student, february, "course_content") for _ in range(50)]
    with api_sessions() as session:
        session.add_all(rows)
        session.commit()

    # Two more spellings, tagged as leads tag: trimmed, full-width letters made plain.
    for key, typed in (("t3", "  huawei  p30   闪退 "), ("t4", "ＨＵＡＷＥＩ P30 闪退")):
        tagged = api.put(
            f"/api/complaints/{sla[key].id}/root-cause", json={"root_cause": typed}, headers=auth(api, lead)
        )
        assert tagged.status_code == 200, tagged.text
    headers = auth(api, lead)
    for body in (
        {
            "month": "2026-03",
            "category": "technical",
            "root_cause": "Huawei P30 闪退",
            "action": "发布紧急修复补丁",
            "owner": "App 组",
            "status": "in_progress",
        },
        {"month": "2026-03", "category": "course_content", "action": "在课程介绍页标注预备知识"},
        {"month": "2026-02", "category": "technical", "action": "二月的措施"},
    ):
        assert api.post("/api/reports/complaints/actions", json=body, headers=headers).status_code == 201
    return {key: row.id for key, row in {**sla, **edges}.items()}


def attainment(met: int, missed: int, percent: float | None) -> dict[str, Any]:
    return {"met": met, "missed": missed, "percent": percent}


def satisfaction(answered: int, satisfied: int, percent: float | None) -> dict[str, Any]:
    return {"answered": answered, "satisfied": satisfied, "percent": percent}


def test_the_march_report_as_worked_out_by_hand(
    api: TestClient, api_sessions: SessionFactory, march: dict[str, str], lead: User
) -> None:
    answer = api.get("/api/reports/complaints", params={"month": "2026-03"}, headers=auth(api, lead))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["month"], report["previous_month"]) == ("2026-03", "2026-02")
    assert (report["starts_at"], report["ends_at"]) == ("2026-02-28T16:00:00Z", "2026-03-31T16:00:00Z")
    assert report["as_of"] == "2026-03-31T16:00:00Z"  # a past month is judged as it closed

    rows = {row["category"]: row for row in report["rows"]}
    assert list(rows) == ["technical", "course_content", "service_fees", None]
    # 87 complaints in March: 23 + 57 + 6 + 1 not triaged. February: 20 + 50.
    figures = {
        category: (row["complaints"], row["share_percent"], row["last_month"], row["change_percent"])
        for category, row in rows.items()
    }
    assert figures == {
        "technical": (23, 26.4, 20, 15.0),  # 23/87 = 26.44 %; +3/20
        "course_content": (57, 65.5, 50, 14.0),  # 57/87 = 65.52 %; +7/50
        "service_fees": (6, 6.9, 0, None),  # 6/87 = 6.90 %; from none: no percentage
        None: (1, 1.1, 0, None),
    }
    total = report["total"]
    assert (total["category"], total["complaints"], total["share_percent"], total["last_month"]) == (
        None,
        87,
        100.0,
        70,
    )
    assert total["change_percent"] == 24.3  # +17/70 = 24.29 %

    def causes(row: dict[str, Any]) -> list[tuple[str, int]]:
        return [(cause["root_cause"], cause["complaints"]) for cause in row["main_root_causes"]]

    # "Huawei P30 闪退" ×2, "huawei p30 闪退", "HUAWEI P30 闪退" are one cause; 回放 sorts before 直播.
    assert causes(rows["technical"]) == [("Huawei P30 闪退", 4), ("登录验证码收不到", 2), ("回放加载慢", 1)]
    assert causes(rows["course_content"]) == [("高阶算法预备知识", 3), ("Huawei P30 闪退", 1)]
    assert causes(rows["service_fees"]) == [("退款流程说明不清", 2)]
    assert causes(rows[None]) == []
    assert causes(total) == [("Huawei P30 闪退", 5), ("高阶算法预备知识", 3), ("登录验证码收不到", 2)]

    assert [
        (a["action"], a["owner"], a["status"], a["root_cause"]) for a in rows["technical"]["actions"]
    ] == [("发布紧急修复补丁", "App 组", "in_progress", "Huawei P30 闪退")]
    assert [(a["action"], a["status"]) for a in rows["course_content"]["actions"]] == [
        ("在课程介绍页标注预备知识", "planned")
    ]
    assert rows["service_fees"]["actions"] == [] and total["actions"] == []

    assert rows["technical"]["first_response"] == attainment(3, 2, 60.0)
    assert rows["technical"]["resolution"] == attainment(1, 3, 25.0)
    assert rows["technical"]["satisfaction"] == satisfaction(3, 2, 66.7)
    assert rows["course_content"]["first_response"] == attainment(1, 0, 100.0)
    assert rows["course_content"]["resolution"] == attainment(1, 0, 100.0)
    assert rows["course_content"]["satisfaction"] == satisfaction(1, 1, 100.0)
    for nothing_counted in (rows["service_fees"], rows[None]):
        assert nothing_counted["first_response"] == attainment(0, 0, None)
        assert nothing_counted["resolution"] == attainment(0, 0, None)
        assert nothing_counted["satisfaction"] == satisfaction(0, 0, None)
    assert total["first_response"] == attainment(4, 2, 66.7)
    assert total["resolution"] == attainment(2, 3, 40.0)
    assert total["satisfaction"] == satisfaction(4, 3, 75.0)

    assert report["spikes"] == [
        {
            "kind": "category_rose",
            "complaints": 23,
            "category": "technical",
            "last_month": 20,
            "change_percent": 15.0,
            "root_cause": None,
            "categories": [],
        },
        {
            "kind": "category_rose",
            "complaints": 6,
            "category": "service_fees",
            "last_month": 0,
            "change_percent": None,
            "root_cause": None,
            "categories": [],
        },
        {
            "kind": "root_cause_repeated",
            "complaints": 5,
            "category": None,
            "last_month": None,
            "change_percent": None,
            "root_cause": "Huawei P30 闪退",
            "categories": [
                {"category": "technical", "complaints": 4},
                {"category": "course_content", "complaints": 1},
            ],
        },
        {
            "kind": "root_cause_repeated",
            "complaints": 3,
            "category": None,
            "last_month": None,
            "change_percent": None,
            "root_cause": "高阶算法预备知识",
            "categories": [{"category": "course_content", "complaints": 3}],
        },
    ]


def test_sla_verdicts_are_as_things_stood_at_as_of(
    api_sessions: SessionFactory, march: dict[str, str]
) -> None:
    """Mid-March, t5 and t7 have not been received yet, and t2's reopened deadline (20:00 Beijing
    on the 10th) has not passed: a reopened complaint left out, not missed."""
    with api_sessions() as session:
        early = complaint_report(session, month=MARCH, as_of=at(5))
        later = complaint_report(session, month=MARCH, as_of=datetime(2026, 4, 2, tzinfo=UTC))
    technical = early.rows[0]
    assert (technical.first_response.met, technical.first_response.missed) == (3, 2)
    assert (technical.resolution.met, technical.resolution.missed) == (1, 2)  # t1, t4
    # Judged after the month closed, t7's reply at 00:02 on April 1st (before its due time) counts,
    # and t5 (never answered) has missed both clocks: only the as_of moved.
    technical = later.rows[0]
    assert (technical.first_response.met, technical.first_response.missed) == (4, 3)
    assert (technical.resolution.met, technical.resolution.missed) == (1, 5)


def test_the_april_report_counts_the_complaint_of_00_10_on_april_1st(
    api_sessions: SessionFactory, march: dict[str, str]
) -> None:
    with api_sessions() as session:
        report = complaint_report(session, month=APRIL, as_of=datetime(2026, 5, 1, tzinfo=UTC))
    technical = report.rows[0]
    assert (
        technical.complaints,
        technical.share_percent,
        technical.last_month,
        technical.change_percent,
    ) == (
        1,
        100.0,
        23,
        -95.7,  # -22/23
    )
    assert [row.category for row in report.rows] == [*("technical", "course_content", "service_fees"), None]
    assert report.rows[3].last_month == 1 and report.rows[3].complaints == 0  # March's untriaged one
    assert report.spikes == []
    assert (report.total.complaints, report.total.last_month) == (1, 87)


def test_the_csv_is_the_same_table_for_excel(api: TestClient, march: dict[str, str], lead: User) -> None:
    answer = api.get(
        "/api/reports/complaints.csv", params={"month": "2026-03", "lang": "en"}, headers=auth(api, lead)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="complaints-2026-03.csv"'
    assert answer.content.startswith("\ufeff".encode())
    text = answer.content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        [
            "Category",
            "Complaints",
            "Share of the month %",
            "Last month",
            "Change on last month %",
            "Main root causes",
            "Improvement actions",
            "First response in time %",
            "Resolved in time %",
            "Satisfied at follow-up %",
        ],
        [
            "technical",
            "23",
            "26.4",
            "20",
            "15.0",
            "Huawei P30 闪退 (4); 登录验证码收不到 (2); 回放加载慢 (1)",
            "发布紧急修复补丁 [App 组, in progress]",
            "60.0",
            "25.0",
            "66.7",
        ],
        [
            "course content",
            "57",
            "65.5",
            "50",
            "14.0",
            "高阶算法预备知识 (3); Huawei P30 闪退 (1)",
            "在课程介绍页标注预备知识 [planned]",
            "100.0",
            "100.0",
            "100.0",
        ],
        ["service & fees", "6", "6.9", "0", "", "退款流程说明不清 (2)", "", "", "", ""],
        ["Not triaged yet", "1", "1.1", "0", "", "", "", "", "", ""],
        [
            "Total",
            "87",
            "100.0",
            "70",
            "24.3",
            "Huawei P30 闪退 (5); 高阶算法预备知识 (3); 登录验证码收不到 (2)",
            "",
            "66.7",
            "40.0",
            "75.0",
        ],
        [],
        ["Spikes"],
        ["Kind", "Category", "Root cause", "Complaints this month", "Last month", "Change on last month %"],
        ["Category rose sharply", "technical", "", "23", "20", "15.0"],
        ["Category rose sharply", "service & fees", "", "6", "0", ""],
        ["Root cause repeated", "technical (4); course content (1)", "Huawei P30 闪退", "5", "", ""],
        ["Root cause repeated", "course content (3)", "高阶算法预备知识", "3", "", ""],
    ]
    assert text.count("\r\n") == 13  # Excel's line ends

    chinese = api.get("/api/reports/complaints.csv", params={"month": "2026-03"}, headers=auth(api, lead))
    lines = chinese.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("投诉类型,投诉数,本月占比 %,上月投诉数,环比变化 %,主要问题根源,改进措施")
    assert lines[1].startswith("技术问题,23,26.4,20,15.0,")
    assert "发布紧急修复补丁 [App 组, 进行中]" in lines[1] and lines[5].startswith("合计,87,")


def test_the_months_tags_with_their_counts(api: TestClient, march: dict[str, str], lead: User) -> None:
    answer = api.get(
        "/api/reports/complaints/root-causes", params={"month": "2026-03"}, headers=auth(api, lead)
    )
    assert answer.status_code == 200
    assert [(tag["root_cause"], tag["complaints"]) for tag in answer.json()] == [
        ("Huawei P30 闪退", 5),
        ("高阶算法预备知识", 3),
        ("登录验证码收不到", 2),
        ("退款流程说明不清", 2),
        ("回放加载慢", 1),
        ("直播 CDN 故障", 1),
    ]
    assert answer.json()[0]["categories"] == [
        {"category": "technical", "complaints": 4},
        {"category": "course_content", "complaints": 1},
    ]


def test_a_quiet_month_flags_nothing_below_five_complaints(
    api_sessions: SessionFactory, march: dict[str, str]
) -> None:
    """June 2025 against May: technical 4 after 1 (+300 %, too few), course content 5 after none
    (the minimum: flagged), service & fees none after 3 (-100 %)."""
    student = make_user(api_sessions, Role.STUDENT)
    may, june = datetime(2025, 5, 20, tzinfo=UTC), datetime(2025, 6, 20, tzinfo=UTC)
    counts = {
        (may, "technical"): 1,
        (may, "service_fees"): 3,
        (june, "technical"): 4,
        (june, "course_content"): 5,
    }
    with api_sessions() as session:
        for (when, category), n in counts.items():
            session.add_all(complaint(student, when, category, root_cause="同一个原因") for _ in range(n))
        session.commit()
        report = complaint_report(session, month=ReportMonth(2025, 6))
    assert [(r.category, r.complaints, r.last_month, r.change_percent) for r in report.rows] == [
        ("technical", 4, 1, 300.0),
        ("course_content", 5, 0, None),
        ("service_fees", 0, 3, -100.0),
    ]
    assert report.rows[2].share_percent == 0.0
    assert [(s.kind, s.category, s.root_cause, s.complaints) for s in report.spikes] == [
        (SpikeKind.CATEGORY_ROSE, "course_content", None, 5),
        (SpikeKind.ROOT_CAUSE_REPEATED, None, "同一个原因", 9),
    ]


def test_an_empty_month_has_rows_of_zeros(api_sessions: SessionFactory, march: dict[str, str]) -> None:
    with api_sessions() as session:
        report = complaint_report(session, month=ReportMonth(2024, 1))
    assert [(r.category, r.complaints, r.share_percent, r.change_percent) for r in report.rows] == [
        ("technical", 0, None, None),
        ("course_content", 0, None, None),
        ("service_fees", 0, None, None),
    ]
    assert report.total.complaints == 0 and report.spikes == []


def test_only_leads_and_admins_read_it_and_a_bad_month_is_a_422(
    api: TestClient, api_sessions: SessionFactory, march: dict[str, str]
) -> None:
    paths = ("/api/reports/complaints", "/api/reports/complaints.csv", "/api/reports/complaints/root-causes")
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    for path in paths:
        assert api.get(path, params={"month": "2026-03"}, headers=admin).status_code == 200
        assert api.get(path, params={"month": "2026-03"}).status_code == 401
        for role in (Role.AGENT, Role.STUDENT, Role.REVIEWER, Role.FINANCE):
            other = auth(api, make_user(api_sessions, role))
            assert api.get(path, params={"month": "2026-03"}, headers=other).status_code == 403, (path, role)
        missing = api.get(path, headers=admin)
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "month"]
        for month, problem in (
            ("2026-3", "month must look like 2026-03"),
            ("March", "month must look like 2026-03"),
            ("2026-13", "month must look like 2026-03"),
            ("1999-12", "between 2000-01 and 2999-12"),
            ("2026-03" * 3, "at most 20 characters"),
        ):
            refused = api.get(path, params={"month": month}, headers=admin)
            assert refused.status_code == 422, (path, month)
            [error] = refused.json()["detail"]
            assert error["loc"] == ["query", "month"] and problem in error["msg"], error


def test_every_value_the_report_names_has_its_words() -> None:
    for kind, values in (("improvement", ImprovementStatus), ("report.spike", SpikeKind)):
        for value in values:
            assert f"{kind}.{value.value}" in MESSAGES, (kind, value)


def test_typed_text_that_looks_like_a_formula_stays_text_in_the_spreadsheet() -> None:
    assert (
        spreadsheet_safe('=HYPERLINK("http://evil.example","点我")')
        == '\'=HYPERLINK("http://evil.example","点我")'
    )
    assert [spreadsheet_safe(text) for text in ("+86 热线", "-1 分", "@客服", "华为 P30")] == [
        "'+86 热线",
        "'-1 分",
        "'@客服",
        "华为 P30",
    ]
