"""Sending SMS. Providers implement SmsSender; the dev outbox stands in for one on a developer's
machine and in tests, keeping every message in a JSON-lines file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Protocol

from domain.timeutil import utcnow


class SmsSender(Protocol):
    async def send(self, *, phone: str, text: str, message_id: str) -> str:
        """Send one message; return the provider's answer. Raise PermanentDeliveryError when the
        provider refuses it for good."""
        ...


class DevSmsOutbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, *, phone: str, text: str, message_id: str) -> str:
        line = json.dumps(
            {"message_id": message_id, "to": phone, "text": text, "at": utcnow().isoformat()},
            ensure_ascii=False,
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return f"stored in dev outbox {self.path.name}"

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")

    def messages(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [
            json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
