"""A JSON-lines file standing in for a provider (SMS, WeChat) on a developer's machine and in tests:
every message it is given is appended, and /dev/<channel>.json lists them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from domain.timeutil import utcnow


class DevOutbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def keep(self, record: dict[str, Any]) -> str:
        line = json.dumps({**record, "at": utcnow().isoformat()}, ensure_ascii=False)
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return f"stored in dev outbox {self.path.name}"

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [
            json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
