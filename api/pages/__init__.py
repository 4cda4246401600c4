"""Server-rendered pages from templates/web/ (autoescaped)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.timeutil import shanghai_text
from settings import PROJECT_ROOT

_env = Environment(
    loader=FileSystemLoader(PROJECT_ROOT / "templates" / "web"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
)
_env.filters["shanghai"] = shanghai_text


def render_page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status_code)
