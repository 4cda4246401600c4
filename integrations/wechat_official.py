"""The WeChat Official Account message server protocol, plaintext mode (明文模式), as WeChat documents
it ("接入概述", "接收普通消息", "被动回复用户消息"):

- Every call carries `signature`, `timestamp` and `nonce` in the query string; signature is the hex
  SHA-1 of token, timestamp and nonce sorted as strings and concatenated. The configuration check
  is a GET that must echo `echostr`.
- Messages are POSTed as XML: ToUserName (the account), FromUserName (the sender's openid),
  CreateTime, MsgType (text, image, voice, video, shortvideo, location, link, event), Content for
  text, MsgId for messages. WeChat redelivers a message it had no answer to within 5 seconds, up to
  three times: MsgId is what makes them one.
- The answer is either "success" (nothing to say) or a passive reply: the same XML shape with the
  two user names swapped, MsgType text and Content.

Plaintext mode signs the query, not the body, so a captured call could carry another body: the
timestamp is therefore held to a few minutes. Safe mode (AES) is not spoken here.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from xml.etree import ElementTree

from domain.secret_compare import same_secret
from integrations.signed_post import is_recent

MAX_BODY_BYTES = 64 * 1024  # a text message is at most 2048 bytes of content
TIMESTAMP_TOLERANCE_SECONDS = 300


class InvalidMessage(ValueError):
    """The body is not a message WeChat sends."""


def signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def verify(
    token: str,
    given_signature: str,
    timestamp: str,
    nonce: str,
    *,
    now: float | None = None,
    tolerance_seconds: int = TIMESTAMP_TOLERANCE_SECONDS,
) -> bool:
    """True when WeChat signed this call with our token, recently."""
    return is_recent(timestamp, now=now, tolerance_seconds=tolerance_seconds) and same_secret(
        given_signature.lower(), signature(token, timestamp, nonce)
    )


@dataclass(frozen=True)
class InboundMessage:
    to_user: str  # the Official Account's id (gh_…)
    from_user: str  # the sender's openid
    create_time: int
    msg_type: str
    content: str | None  # text messages only
    msg_id: str | None  # messages (not events)
    event: str | None  # events only (subscribe, unsubscribe, CLICK, …)


def parse_message(body: bytes) -> InboundMessage:
    """Read one pushed message. WeChat's XML has no DTD, so one is refused outright (no entity
    expansion can happen here)."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidMessage("message too large")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise InvalidMessage("a document type declaration is not allowed")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise InvalidMessage(f"not XML: {exc}") from exc
    if root.tag != "xml":
        raise InvalidMessage("the root element must be <xml>")

    def field(name: str) -> str | None:
        element = root.find(name)
        return element.text if element is not None and element.text is not None else None

    to_user, from_user, msg_type = field("ToUserName"), field("FromUserName"), field("MsgType")
    create_time = field("CreateTime")
    if not (to_user and from_user and msg_type and create_time and create_time.isdigit()):
        raise InvalidMessage("ToUserName, FromUserName, CreateTime and MsgType are required")
    message = InboundMessage(
        to_user=to_user,
        from_user=from_user,
        create_time=int(create_time),
        msg_type=msg_type,
        content=field("Content"),
        msg_id=field("MsgId"),
        event=field("Event"),
    )
    if msg_type == "text" and not (message.content and message.msg_id and message.msg_id.isdigit()):
        raise InvalidMessage("a text message needs Content and a numeric MsgId")
    return message


def _cdata(value: str) -> str:
    # "]]>" cannot stand inside CDATA: split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(message: InboundMessage, content: str, *, now: float | None = None) -> str:
    """A passive reply to `message`: shown to the sender at once, in the chat."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(message.from_user)}</ToUserName>"
        f"<FromUserName>{_cdata(message.to_user)}</FromUserName>"
        f"<CreateTime>{int(time.time() if now is None else now)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )
