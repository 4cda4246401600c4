"""A stand-in for Aliyun's SMS endpoint, written from Aliyun's documentation, not from its SDK: it
checks each request's ACS3-HMAC-SHA256 signature against the access key secret and answers with
responses recorded from Aliyun's SendSms documentation."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ACCESS_KEY_ID = "LTAI5tTestAccessKeyId"
ACCESS_KEY_SECRET = "TestAccessKeySecret0123456789"

RECORDED_OK = {
    "Message": "OK",
    "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990",
    "Code": "OK",
    "BizId": "900619746936498440^0",
}
RECORDED_BAD_NUMBER = {
    "Message": "invalid mobile number",
    "RequestId": "D9CB3933-0C25-4E13-9EA1-6B4C50EB0B11",
    "Code": "isv.MOBILE_NUMBER_ILLEGAL",
}
RECORDED_THROTTLED = {
    "Message": "触发小时级流控Permits:5",
    "RequestId": "2E0F9A31-4E58-4A7E-9B0C-4F2D0B6C1E22",
    "Code": "isv.BUSINESS_LIMIT_CONTROL",
}
RECORDED_BAD_SIGNATURE = {
    "RequestId": "7B3E6A5B-8C41-4A3C-9D2E-5F6A7B8C9D0E",
    "HostId": "dysmsapi.aliyuncs.com",
    "Code": "SignatureDoesNotMatch",
    "Message": "Specified signature does not match our calculation.",
}


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def expected_signature(secret: str, method: str, query_string: str, headers: dict[str, str]) -> str:
    """ACS3-HMAC-SHA256 as Aliyun documents it (V3 request signing)."""
    authorization = headers["authorization"]
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    query = "&".join(
        f"{key}={value}"
        for key, value in sorted(
            (_encode(k), _encode(v)) for k, v in parse_qsl(query_string, keep_blank_values=True)
        )
    )
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical_request = "\n".join(
        [method, "/", query, canonical_headers, ";".join(signed), headers["x-acs-content-sha256"]]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


class AliyunSmsPeer:
    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []  # next answers; OK when empty
        self.received: list[dict[str, str]] = []  # the SendSms parameters of each accepted request
        self.app = FastAPI()

        @self.app.post("/")
        async def send_sms(request: Request) -> JSONResponse:
            headers = {name.lower(): value for name, value in request.headers.items()}
            given = headers.get("authorization", "").rsplit("Signature=", 1)[-1]
            valid = (
                headers.get("x-acs-action") == "SendSms"
                and headers.get("x-acs-version") == "2017-05-25"
                and f"Credential={ACCESS_KEY_ID}," in headers.get("authorization", "")
                and hmac.compare_digest(
                    given,
                    expected_signature(ACCESS_KEY_SECRET, "POST", request.url.query, headers),
                )
            )
            if not valid:
                return JSONResponse(RECORDED_BAD_SIGNATURE, status_code=400)
            self.received.append(dict(request.query_params))
            return JSONResponse(self.answers.pop(0) if self.answers else RECORDED_OK)
