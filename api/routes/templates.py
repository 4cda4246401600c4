"""Notice templates, edited by admins: the list, one template with its version history, a preview
with sample data, saving a new version (checked first: 422 says what is wrong), and going back to
the shipped default. The next notice rendered uses what was saved."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.deps import SessionDep, require_roles
from api.errors import field_error, refusals
from db.models import NoticeTemplateVersion, User
from domain.roles import Role
from domain.text import NO_CONTROL_CHARACTERS
from integrations.notice_renderer import NoticeRenderer, RenderedNotice, TemplateProblem

router = APIRouter(
    prefix="/api/templates",
    tags=["templates"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    responses=refusals(401, 403),
)
NO_TEMPLATE = refusals(404, meanings={404: "no notice template of that name"})
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
TemplateSource = Annotated[str, Field(min_length=1, max_length=20_000), NO_CONTROL_CHARACTERS]


class TemplateSummary(BaseModel):
    name: str  # <event>.<channel|all>.<locale>.j2
    event: str
    channel: str
    locale: str
    version: int  # 0: the shipped default is in force


class VersionOut(BaseModel):
    version: int
    note: str
    created_by: str
    created_at: AwareDatetime
    back_to_default: bool


class TemplateOut(TemplateSummary):
    source: str
    versions: list[VersionOut]  # newest first


class TemplateIn(BaseModel):
    source: TemplateSource
    note: Annotated[str, Field(max_length=500), NO_CONTROL_CHARACTERS] = ""


class PreviewIn(BaseModel):
    source: TemplateSource | None = None  # None: preview the text in force


class PreviewOut(BaseModel):
    template: str
    subject: str
    text: str
    html: str


def _renderer(request: Request) -> NoticeRenderer:
    return request.app.state.renderer


RendererDep = Annotated[NoticeRenderer, Depends(_renderer)]


def _known(renderer: NoticeRenderer, name: str) -> None:
    if name not in renderer.shipped_names():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no notice template {name}")


def _summary(name: str, version: int) -> TemplateSummary:
    event, channel, locale, _suffix = name.rsplit(".", 3)
    return TemplateSummary(name=name, event=event, channel=channel, locale=locale, version=version)


def _versions(session: Session, name: str) -> list[NoticeTemplateVersion]:
    return list(
        session.exec(
            select(NoticeTemplateVersion)
            .where(NoticeTemplateVersion.name == name)
            .order_by(col(NoticeTemplateVersion.version).desc())
        )
    )


def _template_out(session: Session, renderer: NoticeRenderer, name: str) -> TemplateOut:
    versions = _versions(session, name)
    in_force = versions[0] if versions else None
    if in_force is not None and in_force.source is not None:
        source = in_force.source
    else:
        source = (renderer.template_dir / name).read_text(encoding="utf-8")
    return TemplateOut(
        **_summary(name, in_force.version if in_force and in_force.source is not None else 0).model_dump(),
        source=source,
        versions=[
            VersionOut(
                **row.model_dump(include={"version", "note", "created_by", "created_at"}),
                back_to_default=row.source is None,
            )
            for row in versions
        ],
    )


def _save(session: Session, name: str, source: str | None, note: str, admin: User) -> None:
    versions = _versions(session, name)
    session.add(
        NoticeTemplateVersion(
            name=name,
            version=(versions[0].version if versions else 0) + 1,
            source=source,
            note=note,
            created_by=admin.id,
        )
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"someone saved {name} at the same moment; reload it and try again"
        ) from exc


def _problem(exc: TemplateProblem) -> HTTPException:
    return field_error("source", str(exc))


@router.get("", response_model=list[TemplateSummary])
def list_templates(session: SessionDep, renderer: RendererDep) -> list[TemplateSummary]:
    newest: dict[str, NoticeTemplateVersion] = {}
    for row in session.exec(select(NoticeTemplateVersion).order_by(col(NoticeTemplateVersion.version))):
        newest[row.name] = row
    return [
        _summary(name, row.version if (row := newest.get(name)) and row.source is not None else 0)
        for name in renderer.shipped_names()
    ]


@router.get("/{name}", response_model=TemplateOut, responses=NO_TEMPLATE)
def get_template(name: str, session: SessionDep, renderer: RendererDep) -> TemplateOut:
    _known(renderer, name)
    return _template_out(session, renderer, name)


@router.post("/{name}/preview", response_model=PreviewOut, responses=NO_TEMPLATE)
def preview_template(name: str, body: PreviewIn, session: SessionDep, renderer: RendererDep) -> PreviewOut:
    """Render a draft (or the text in force) with sample data: nothing is saved."""
    _known(renderer, name)
    source = body.source if body.source is not None else _template_out(session, renderer, name).source
    try:
        rendered: RenderedNotice = renderer.check(name, source)
    except TemplateProblem as exc:
        raise _problem(exc) from exc
    return PreviewOut(template=name, subject=rendered.subject, text=rendered.text, html=rendered.html)


@router.put(
    "/{name}",
    response_model=TemplateOut,
    status_code=status.HTTP_201_CREATED,
    responses=NO_TEMPLATE | refusals(409, meanings={409: "another admin saved it at the same moment"}),
)
def save_template(
    name: str, body: TemplateIn, session: SessionDep, renderer: RendererDep, admin: AdminUser
) -> TemplateOut:
    """Save a new version; notices rendered from now on use it."""
    _known(renderer, name)
    try:
        renderer.check(name, body.source)
    except TemplateProblem as exc:
        raise _problem(exc) from exc
    _save(session, name, body.source, body.note, admin)
    return _template_out(session, renderer, name)


@router.post(
    "/{name}/revert",
    response_model=TemplateOut,
    responses=NO_TEMPLATE | refusals(409, meanings={409: "the shipped default is in force already"}),
)
def revert_template(name: str, session: SessionDep, renderer: RendererDep, admin: AdminUser) -> TemplateOut:
    """Back to the shipped default, as a new version (the edits stay in the history)."""
    _known(renderer, name)
    versions = _versions(session, name)
    if not versions or versions[0].source is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{name} is the shipped default already")
    _save(session, name, None, "back to the shipped default", admin)
    return _template_out(session, renderer, name)
