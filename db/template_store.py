"""Admins' versions of notice templates (table notice_template_versions), for the renderer and the
templates API."""

from __future__ import annotations

from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import NoticeTemplateVersion


class TemplateStore:
    def __init__(self, session_factory: SessionFactory) -> None:
        self.sessions = session_factory

    def current(self, name: str) -> tuple[str, int] | None:
        """The edited text in force and its version; None while the shipped default is."""
        with self.sessions() as session:
            newest = session.exec(
                select(NoticeTemplateVersion)
                .where(NoticeTemplateVersion.name == name)
                .order_by(col(NoticeTemplateVersion.version).desc())
                .limit(1)
            ).first()
        if newest is None or newest.source is None:
            return None
        return newest.source, newest.version
