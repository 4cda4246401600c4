"""Template injection through the admin's notice editor (API and console): payloads that reach for
Python's insides, the file system, or the machine's time and memory are refused with a 422 that
says why, quickly, and nothing is saved; Jinja written as text or typed by a student stays text.

Elsewhere: the editor's ordinary refusals (syntax, unknown variables, missing blocks, control
characters, roles) in test_templates.py; the rules' wording in
tests/integrations/test_notice_renderer.py."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from jinja2.exceptions import SecurityError
from sqlmodel import func, select

from api.pages.session import SESSION_COOKIE
from db.engine import SessionFactory
from db.models import NoticeTemplateVersion
from domain.notice_variables import sample_context
from domain.notifications import Channel, NoticeEvent
from domain.roles import Role
from integrations.notice_renderer import NoticeRenderer, SupportContact
from tests.api.helpers import auth
from tests.factories import PASSWORD, make_user
from tests.integrations.test_notice_renderer import blocks

NAME = "refund_approved.all.zh-CN.j2"
URL = f"/api/templates/{NAME}"
DEEP = 2_000

PAYLOADS = {
    # Python's insides, through the sandbox's usual doors
    "mro": "{{ ''.__class__.__mro__ }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "attr filter": "{{ support|attr('__class__') }}",
    "item access": "{{ support['__class__'] }}",
    "format string": "{{ '{0.__class__}'.format(order_id) }}",
    "self globals": "{{ self.__init__.__globals__ }}",
    "cycler os": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "lipsum globals": "{{ lipsum.__globals__['os'] }}",
    "config": "{{ config.items() }}",
    "request": "{{ request.application }}",
    "namespace": "{% set ns = namespace(x=1) %}{{ ns.x }}",
    # other templates and files
    "import": "{% import 'os' as os %}{{ os }}",
    "from import": "{% from '_email_layout.html.j2' import x %}",
    "include": "{% include '../../settings.py' %}",
    "extends": "{% extends '_email_layout.html.j2' %}",
    # time and memory
    "huge loop": "{% for i in range(10**9) %}x{% endfor %}",
    "nested loops": "{% for a in 'x' * 99 %}{% for b in order_id %}{% for c in order_id %}x{% endfor %}"
    "{% endfor %}{% endfor %}",
    "repeat": "{{ 'x' * 1000000000 }}",
    "power": "{{ 9 ** 9 ** 9 ** 9 }}",
    "padding": "{{ '%999999999s' % order_id }}",
    "center": "{{ order_id|center(999999999) }}",
    "ljust": "{{ order_id.ljust(999999999) }}",
    "huge number": "{{ " + "9" * 5000 + " }}",
    "deep brackets": "{{ " + "(" * DEEP + "1" + ")" * DEEP + " }}",
    "deep ifs": "{% if true %}" * DEEP + "x" + "{% endif %}" * DEEP,
    "macro recursion": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
}


def _versions(sessions: SessionFactory) -> int:
    with sessions() as session:
        return session.exec(select(func.count()).select_from(NoticeTemplateVersion)).one()


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_injected_template_code_is_refused_at_once_and_nothing_is_saved(
    api: TestClient, api_sessions: SessionFactory, payload: str
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    before, versions = api.get(URL, headers=admin).json(), _versions(api_sessions)
    source = blocks(payload, "{{ student_name }}")
    for action in ("preview", "save"):
        started = time.monotonic()
        if action == "save":
            answer = api.put(URL, json={"source": source, "note": "x"}, headers=admin)
        else:
            answer = api.post(f"{URL}/preview", json={"source": source}, headers=admin)
        assert time.monotonic() - started < 2, action
        assert answer.status_code == 422, (action, answer.text[:300])
        assert answer.json()["detail"][0]["loc"][-1] == "source"
        assert "__globals__" not in answer.text or "is not allowed" in answer.text
    assert api.get(URL, headers=admin).json() == before and _versions(api_sessions) == versions


def test_the_console_editor_refuses_them_too(api: TestClient, api_sessions: SessionFactory) -> None:
    admin = make_user(api_sessions, Role.ADMIN)
    token = api.post("/api/auth/token", data={"username": admin.email, "password": PASSWORD})
    api.cookies.set(SESSION_COOKIE, token.json()["access_token"])  # the console's cookie: the same token
    try:
        versions = _versions(api_sessions)
        for payload in (PAYLOADS["cycler os"], PAYLOADS["huge loop"]):
            page = api.post(
                f"/admin/templates/{NAME}",
                data={"source": blocks(payload, "x"), "action": "save"},
                headers={"Origin": "http://testserver"},
                follow_redirects=False,
            )
            assert page.status_code == 422 and "is not allowed" in page.text
        assert _versions(api_sessions) == versions
    finally:
        api.cookies.clear()


def test_template_syntax_written_as_text_or_typed_by_a_student_stays_text(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    raw = blocks("{% raw %}{{ ''.__class__ }}{% endraw %}", "{{ student_name }}")
    preview = api.post(f"{URL}/preview", json={"source": raw}, headers=admin)
    assert preview.status_code == 200 and preview.json()["subject"] == "{{ ''.__class__ }}"
    # A student's words are data: rendered as typed, never evaluated (no second rendering).
    renderer = NoticeRenderer(SupportContact(phone="1", email="e@x.test", hours="9-5"))
    words = "{{ 7*7 }} {% for x in range(9) %}x{% endfor %} {{ ''.__class__ }}"
    context = {**sample_context(NoticeEvent.REFUND_RECEIVED), "reason": words}
    notice = renderer.render(NoticeEvent.REFUND_RECEIVED, Channel.EMAIL, "zh-CN", context)
    assert words in notice.text and "49" not in notice.text


class _Saved:
    def __init__(self, source: str) -> None:
        self.source = source

    def current(self, name: str) -> tuple[str, int] | None:
        return (self.source, 7) if name == NAME else None


def test_a_version_saved_before_these_rules_is_not_run_and_the_sandbox_still_stands_behind_them() -> None:
    support = SupportContact(phone="1", email="e@x.test", hours="9-5")
    context = {**sample_context(NoticeEvent.REFUND_APPROVED)}
    looping = NoticeRenderer(support, overrides=_Saved(blocks("{% for i in range(9) %}x{% endfor %}", "y")))
    notice = looping.render(NoticeEvent.REFUND_APPROVED, Channel.EMAIL, "zh-CN", context)
    assert notice.version == 0 and "xxxxxxxxx" not in notice.subject  # the shipped default instead
    fine = NoticeRenderer(support, overrides=_Saved(blocks("批准 {{ order_id }}", "y")))
    assert fine.render(NoticeEvent.REFUND_APPROVED, Channel.EMAIL, "zh-CN", context).version == 7
    # Were the rules ever bypassed, the sandbox still refuses Python's insides as it renders.
    with pytest.raises(SecurityError):
        looping.env.from_string("{{ support.__class__.__mro__ }}").render(support=support)
