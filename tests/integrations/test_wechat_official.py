"""The Official Account message protocol: the signature WeChat computes, the XML it pushes and the
passive reply it expects."""

from __future__ import annotations

import hashlib
from xml.etree import ElementTree

import pytest

from integrations.wechat_official import InvalidMessage, parse_message, signature, text_reply, verify

NOW = 1_795_000_000


def test_the_signature_is_sha1_of_token_timestamp_and_nonce_sorted() -> None:
    # Sorted as strings: "1795000000" < "devwechattoken" < "nonce42".
    expected = hashlib.sha1(b"1795000000devwechattokennonce42").hexdigest()
    assert signature("devwechattoken", "1795000000", "nonce42") == expected
    assert verify("devwechattoken", expected, "1795000000", "nonce42", now=NOW + 60)
    assert verify("devwechattoken", expected.upper(), "1795000000", "nonce42", now=NOW)
    assert not verify("othertoken", expected, "1795000000", "nonce42", now=NOW)
    assert not verify("devwechattoken", expected, "1795000000", "nonce43", now=NOW)
    assert not verify("devwechattoken", expected, "1795000000", "nonce42", now=NOW + 301)  # replayed later
    assert not verify("devwechattoken", expected, "soon", "nonce42", now=NOW)
    forged = "签名" + expected[2:]  # refused, not a TypeError
    assert not verify("devwechattoken", forged, "1795000000", "nonce42", now=NOW)


PUSHED = (
    b"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
    b"<FromUserName><![CDATA[oAbC0123456789]]></FromUserName><CreateTime>1795000000</CreateTime>"
    b"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[\xe7\x9b\xb4\xe6\x92\xad\xe5\x8d\xa1\xe9\xa1\xbf]]>"
    b"</Content><MsgId>24123456789012345</MsgId></xml>"
)


def test_a_pushed_text_message_is_read_and_answered_with_the_names_swapped() -> None:
    message = parse_message(PUSHED)
    assert (message.to_user, message.from_user, message.msg_type, message.content, message.msg_id) == (
        "gh_0123456789ab",
        "oAbC0123456789",
        "text",
        "直播卡顿",
        "24123456789012345",
    )
    reply = ElementTree.fromstring(text_reply(message, "收到 ]]> <b>", now=NOW))
    assert {child.tag: child.text for child in reply} == {
        "ToUserName": "oAbC0123456789",
        "FromUserName": "gh_0123456789ab",
        "CreateTime": str(NOW),
        "MsgType": "text",
        "Content": "收到 ]]> <b>",  # survives CDATA intact
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml><unclosed></xml>",
        b'<!DOCTYPE xml [<!ENTITY lol "lol">]><xml><Content>&lol;</Content></xml>',
        b"<notxml/>",
        PUSHED.replace(b"<MsgId>24123456789012345</MsgId>", b""),
        PUSHED.replace(b"<CreateTime>1795000000</CreateTime>", b""),
        PUSHED + b" " * 70_000,
    ],
)
def test_what_wechat_never_sends_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidMessage):
        parse_message(body)
