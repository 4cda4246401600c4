"""Renders student notices from templates/notifications/.

A notice template is `<event>.<channel>.<locale>.j2`, or `<event>.all.<locale>.j2` when one text
serves every channel; it defines the blocks `subject` and `text`. The HTML part of an email is the
text laid out by `_email_layout.html.j2` (autoescaped), so each notice's words live in one place.
Rendering is sandboxed and undefined variables are errors, not blanks.

Admins may replace a template's text (`/api/templates`): the newest saved version, read through
`overrides`, is used instead of the shipped file, and `check` is what a new text must pass first —
it parses, keeps to the template rules (integrations/template_rules.py: no loops, calls or
multiplication, so it renders in time and memory proportional to its text), defines both blocks,
uses only the event's variables (domain/notice_variables.py), and renders with sample data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from domain.money import format_yuan
from domain.notice_variables import allowed_variables, sample_context
from domain.notifications import Channel, NoticeEvent
from domain.timeutil import shanghai_text
from integrations.template_rules import refusal
from settings import Settings

log = logging.getLogger(__name__)
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
    version: int = 0  # of the template; 0 is the shipped default


class TemplateOverrides(Protocol):
    def current(self, name: str) -> tuple[str, int] | None:
        """The text in force for `name` and its version, or None for the shipped default."""
        ...


class TemplateProblem(ValueError):
    """Why a template text cannot be saved, in words for the admin who wrote it."""


REQUIRED_BLOCKS = ("subject", "text")


def event_of(name: str) -> NoticeEvent:
    return NoticeEvent(name.split(".", 1)[0])


def _shanghai(value: str | datetime) -> str:
    return shanghai_text(datetime.fromisoformat(value) if isinstance(value, str) else value)


class NoticeRenderer:
    def __init__(
        self,
        support: SupportContact,
        template_dir: Path = NOTIFICATION_TEMPLATE_DIR,
        overrides: TemplateOverrides | None = None,
    ) -> None:
        self.support = support
        self.template_dir = template_dir
        self.overrides = overrides
        self._compiled: dict[tuple[str, int], Template] = {}
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

    def shipped_names(self) -> list[str]:
        """Every notice template that ships with Aftercare (layouts excluded)."""
        return sorted(path.name for path in self.template_dir.glob("*.j2") if not path.name.startswith("_"))

    def _template(self, name: str) -> tuple[Template, int]:
        override = self.overrides.current(name) if self.overrides else None
        if override is None:
            return self.env.get_template(name), 0
        source, version = override
        compiled = self._compiled.get((name, version))
        if compiled is None:
            # Checked again: a version saved before today's rules must not run unchecked.
            try:
                broken = refusal(self.env.parse(source), allowed_variables(event_of(name)))
            except Exception as exc:  # it does not even parse now
                broken = str(exc)[:200]
            if broken is not None:
                log.warning(
                    "%s version %s breaks the template rules (%s): the default is used", name, version, broken
                )
                return self.env.get_template(name), 0
            compiled = self._compiled[(name, version)] = self.env.from_string(source)
        return compiled, version

    def render(
        self, event: NoticeEvent, channel: Channel, locale: str, context: dict[str, Any]
    ) -> RenderedNotice:
        name = self.template_name(event, channel, locale)
        template, version = self._template(name)
        return self._render(template, name, version, locale, context)

    def check(self, name: str, source: str) -> RenderedNotice:
        """Raise TemplateProblem unless `source` could replace template `name`; return it rendered
        with sample data (the preview)."""
        event = event_of(name)
        try:
            parsed = self.env.parse(source)
        except TemplateSyntaxError as exc:
            raise TemplateProblem(f"line {exc.lineno}: {exc.message}") from exc
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, brackets 1,000 deep
            raise TemplateProblem(f"it does not parse: {str(exc)[:200]}") from exc
        try:
            broken = refusal(parsed, allowed_variables(event))
        except RecursionError as exc:
            raise TemplateProblem("it is nested too deeply") from exc
        if broken is not None:
            raise TemplateProblem(broken)
        try:
            template = self.env.from_string(source)
        except Exception as exc:  # whatever compiling finds is the text's fault too
            raise TemplateProblem(f"it does not compile: {exc}") from exc
        missing = [block for block in REQUIRED_BLOCKS if block not in template.blocks]
        if missing:
            raise TemplateProblem(f"the template must define the blocks: {', '.join(missing)}")
        locale = name.rsplit(".", 2)[-2]
        try:
            return self._render(template, name, 0, locale, sample_context(event))
        except Exception as exc:  # an admin's code: the sandbox's refusal, a type error, ...
            raise TemplateProblem(f"it does not render with sample data: {exc}") from exc

    def _render(
        self, template: Template, name: str, version: int, locale: str, context: dict[str, Any]
    ) -> RenderedNotice:
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
        return RenderedNotice(subject=subject, text=text, html=html, template=name, version=version)


def school_renderer(settings: Settings, overrides: TemplateOverrides | None) -> NoticeRenderer:
    """The renderer with the school's support contact, as the worker and the API both use it."""
    support = SupportContact(
        phone=settings.support_phone, email=settings.support_email, hours=settings.support_hours
    )
    return NoticeRenderer(support, overrides=overrides)
