"""Reading what an unauthenticated caller sends, without holding more than we would ever take: a
webhook's body is read in chunks and given up at its limit, whatever Content-Length says (or does
not say: a chunked request has none)."""

from __future__ import annotations

from fastapi import HTTPException, Request, status


async def body_at_most(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be longer than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def body_or_413(request: Request, limit: int, what: str) -> bytes:
    body = await body_at_most(request, limit)
    if body is None:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{what} too large")
    return body
