"""The survey link's token stays out of the API's access log, with uvicorn logging every request."""

from __future__ import annotations

import asyncio
import logging

import httpx
import uvicorn

from api.access_log import masked
from api.app import create_app
from api.services.complaints import survey_token
from db.engine import SessionFactory, build_engine
from devstack.processes import free_port
from domain.roles import Role
from settings import Settings
from tests.factories import make_complaint, make_user


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_the_survey_token_is_masked_in_the_access_log(settings: Settings) -> None:
    sessions = SessionFactory(build_engine(settings.database_url))
    complaint = make_complaint(sessions, make_user(sessions, Role.STUDENT), stage="follow_up")
    token = survey_token(settings, complaint.id)
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="info")
    server = uvicorn.Server(config)
    access = Lines()
    logging.getLogger("uvicorn.access").addHandler(access)  # after the Config: it resets the handlers
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), task.result()
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
            page = await api.get(f"/survey/{complaint.id}", params={"t": token, "lang": "en"})
            assert page.status_code == 200  # the token let the page open
            wrong = await api.get(f"/survey/{complaint.id}", params={"t": "forged"})
            assert wrong.status_code == 404
            assert (await api.get("/healthz", params={"t": "not-a-survey"})).status_code == 200
    finally:
        server.should_exit = True
        await task
        logging.getLogger("uvicorn.access").removeHandler(access)
    logged = "\n".join(access.lines)
    assert f"/survey/{complaint.id}?t=***&lang=en" in logged and token not in logged
    assert f'"GET /survey/{complaint.id}?t=*** HTTP/1.1" 404' in logged and "forged" not in logged
    assert "/healthz?t=not-a-survey" in logged  # only the survey's parameter is a capability


def test_masking_changes_only_the_capability_parameter() -> None:
    assert masked("/survey/C1?t=abc&lang=en") == "/survey/C1?t=***&lang=en"
    assert masked("/survey/C1?lang=en") == "/survey/C1?lang=en"
    assert masked("/survey/C1") == "/survey/C1"
    assert masked("/lead?recording=RF1&t=x") == "/lead?recording=RF1&t=x"
