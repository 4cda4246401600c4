"""What the intake channels hand over, made into a complaint's text: readable, within the complaint
text limit, and without what is not the student's own words (quoted replies, "Re:" prefixes)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from domain.text import NO_CONTROL_CHARACTERS
from domain.timeutil import SHANGHAI

COMPLAINT_TEXT_LIMIT = 4000  # db.models.Complaint.text and CustomerMessage.text

# The ids api/services/complaints.py gives: CP + Shanghai date + 10 hex digits. Letters or digits
# around it would make it part of another word.
_COMPLAINT_ID = re.compile(r"(?<![0-9A-Za-z])(CP\d{8}[0-9A-F]{10})(?![0-9A-Za-z])")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|fw|fwd|sv|回复|答复|转发)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.I)
# Where a mail client starts quoting the message answered ("On … wrote:", Outlook's header block,
# Chinese clients' "在 … 写道："): what follows is not new.
_QUOTE_HEADER = re.compile(
    r"^\s*(?:On .{1,200}wrote:|在.{1,200}写道[:：]|-{2,}\s*(?:Original Message|原始邮件|Forwarded message)"
    r"\s*-{2,}|(?:From|发件人)\s*[:：].+)\s*$",
    re.I,
)


def readable(text: str, limit: int = COMPLAINT_TEXT_LIMIT) -> str:
    """Control characters out (tabs and line breaks stay), line ends unified, runs of blank lines
    shortened, and cut to `limit` characters with an ellipsis."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def complaint_id_in(subject: str) -> str | None:
    """The complaint a reply is about, from its subject ("Re: 我们已收到您的反馈（编号 CP…）")."""
    found = _COMPLAINT_ID.search(subject)
    return found.group(1) if found else None


def without_reply_prefixes(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject).strip()


def without_quoted_reply(body: str) -> str:
    """The new part of an email: up to the quoted message, without "> " lines."""
    kept = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept)


def email_text(subject: str, body: str, *, limit: int = COMPLAINT_TEXT_LIMIT) -> str:
    """A new complaint from an email: its subject, then what the student wrote."""
    title = readable(without_reply_prefixes(subject), 300)
    words = readable(without_quoted_reply(body), limit)
    return readable(f"{title}\n\n{words}" if title and words else title or words, limit)


def email_follow_up_text(subject: str, body: str, *, limit: int = COMPLAINT_TEXT_LIMIT) -> str:
    """A reply on a complaint: what is new in it (the subject only if the body adds nothing)."""
    return readable(without_quoted_reply(body), limit) or readable(without_reply_prefixes(subject), limit)


# --- live chat transcripts ------------------------------------------------------------------------


class ChatLine(BaseModel):
    at: AwareDatetime
    speaker: Literal["student", "agent"]
    text: Annotated[str, Field(min_length=1, max_length=2000), NO_CONTROL_CHARACTERS]


SPEAKER_LABELS = {"student": "学员", "agent": "客服"}
_LINE_LIMIT = 600  # one long message must not crowd out the rest of the conversation


def _line(line: ChatLine) -> str:
    text = readable(line.text, _LINE_LIMIT).replace("\n", "\n    ")
    return f"[{line.at.astimezone(SHANGHAI):%H:%M}] {SPEAKER_LABELS[line.speaker]}：{text}"


def _header(lines: Sequence[ChatLine]) -> str:
    first: datetime = min(line.at for line in lines).astimezone(SHANGHAI)
    last: datetime = max(line.at for line in lines).astimezone(SHANGHAI)
    return f"在线客服对话记录（{first:%Y-%m-%d %H:%M}–{last:%H:%M} 北京时间，共 {len(lines)} 条）"


def transcript_text(lines: Sequence[ChatLine], *, limit: int = COMPLAINT_TEXT_LIMIT) -> str:
    """A chat as a complaint's text, one line per message with its Beijing time and speaker. Too
    long for the limit, it keeps the start (where the student says what is wrong) and the end
    (where it stands), and says how many messages were left out between them."""
    ordered = sorted(lines, key=lambda line: line.at)
    header = _header(ordered)
    rendered = [_line(line) for line in ordered]
    whole = "\n".join([header, *rendered])
    if len(whole) <= limit:
        return whole
    budget = limit - len(header) - 40  # room for the header and the "left out" line
    head: list[str] = []
    tail: list[str] = []
    used = 0
    start, end = 0, len(rendered) - 1
    # Take from the start and the end in turn, two from the start for each from the end.
    turn = 0
    while start <= end:
        from_start = turn % 3 != 2
        candidate = rendered[start] if from_start else rendered[end]
        if used + len(candidate) + 1 > budget:
            break
        used += len(candidate) + 1
        if from_start:
            head.append(candidate)
            start += 1
        else:
            tail.insert(0, candidate)
            end -= 1
        turn += 1
    left_out = end - start + 1
    gap = [f"……（中间省略 {left_out} 条）……"] if left_out else []
    return readable("\n".join([header, *head, *gap, *tail]), limit)
