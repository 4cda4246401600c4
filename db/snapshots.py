"""A person's row copied into the value a workflow keeps (it must not read the database itself)."""

from __future__ import annotations

from db.models import Course, User
from domain.courses import CourseType
from domain.notifications import Channel
from domain.refunds import CourseSnapshot, StudentSnapshot


def student_snapshot(student: User) -> StudentSnapshot:
    return StudentSnapshot(
        id=student.id,
        name=student.display_name,
        email=student.email,
        phone=student.phone,
        locale=student.locale,
        muted_channels=[Channel(name) for name in student.muted_channels],
        wechat_openid=student.wechat_openid,
        wechat_oa_openid=student.wechat_oa_openid,
    )


def course_snapshot(course: Course) -> CourseSnapshot:
    return CourseSnapshot(
        id=course.id, name=course.name, type=CourseType(course.type), starts_at=course.starts_at
    )
