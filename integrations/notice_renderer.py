"""Renders student notices from templates/notifications/.

A notice template is `<event>.<channel>.<locale>.j2`, or `<event>.all.<locale>.j2` when one text
serves every channel; it defines the blocks `subject` and `text`. The HTML part of an email is the
text laid out by `_email_layout.html.j2` (autoescaped), so each notice's words live in one place.
Rendering is sandboxed and undefined variables are errors, not blanks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from domain.money import format_yuan
from domain.notifications import Channel, NoticeEvent
from domain.timeutil import shanghai_text

DEFAULT_LOCALE = "zh-CN"
NOTIFICATION_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "notifications"


@dataclass(frozen=True)
class SupportContact:
    phone: str
    email: str
    hours: str


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str
    template: str


def _shanghai(value: str | datetime) -> str:
    return shanghai_text(datetime.fromisoformat(value) if isinstance(value, str) else value)


class NoticeRenderer:
    def __init__(self, support: SupportContact, template_dir: Path = NOTIFICATION_TEMPLATE_DIR) -> None:
        self.support = support
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(template_dir),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["yuan"] = format_yuan
        self.env.filters["shanghai"] = _shanghai

    def template_name(self, event: NoticeEvent, channel: Channel, locale: str) -> str:
        locales = dict.fromkeys((locale, DEFAULT_LOCALE))
        candidates = [f"{event.value}.{kind}.{loc}.j2" for loc in locales for kind in (channel.value, "all")]
        for name in candidates:
            try:
                self.env.get_template(name)
            except TemplateNotFound:
                continue
            return name
        raise TemplateNotFound(f"{event.value} for {channel.value} in {locale}")

    def render(
        self, event: NoticeEvent, channel: Channel, locale: str, context: dict[str, Any]
    ) -> RenderedNotice:
        name = self.template_name(event, channel, locale)
        template = self.env.get_template(name)
        variables = {**context, "support": self.support, "locale": locale}
        ctx = template.new_context(variables)
        subject = "".join(template.blocks["subject"](ctx)).strip()
        text = "".join(template.blocks["text"](ctx)).strip()
        html = self.env.get_template("_email_layout.html.j2").render(
            subject=subject,
            paragraphs=[paragraph.strip() for paragraph in text.split("\n\n") if paragraph.strip()],
            support=self.support,
            locale=locale,
        )
        return RenderedNotice(subject=subject, text=text, html=html, template=name)
