"""The one settings class. Every value can be set by an environment variable prefixed AFTERCARE_.

The defaults are the embedded development setup that `make dev` runs: SQLite under .data/, the
Temporal dev server described by temporal-dev.yml, the dev mailbox and the sandbox gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.notifications import QuietHours
from domain.rate_limits import RateLimit
from domain.redaction import redacted_url, scheme_only

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data"
DEV_JWT_SECRET = "dev-only-secret-change-me-in-production-0123456789"
JWT_SECRET_MIN_BYTES = 32
DEV_COMMERCE_HOOK_SECRET = "dev-commerce-hook-secret"
DEV_INTAKE_SECRET = "dev-intake-secret"
DEV_WECHAT_OFFICIAL_TOKEN = "devwechattoken"
DEV_VIDEO_ROOM_SECRET = "dev-video-room-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AFTERCARE_", env_file=None, extra="ignore")

    # --- storage -------------------------------------------------------------------------------
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'aftercare.db'}"
    # Connections each process keeps open (SQLAlchemy's pool_size), and how many more it may open
    # at a peak (max_overflow). The worker's activity threads each hold one while they run.
    database_pool_size: int = Field(default=5, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)
    # SQLite only: the journal and sync modes, when not db/engine.py's SQLITE_PRAGMAS (WAL, FULL).
    # There to be measured (make bench-tuning); a deployment keeps the defaults.
    database_sqlite_journal_mode: Literal["WAL", "DELETE"] | None = None
    database_sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] | None = None

    # --- Temporal ------------------------------------------------------------------------------
    # Address, namespace, TLS and API key come from temporalio.envconfig (TEMPORAL_ADDRESS,
    # TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, or a profile in temporal.toml). When
    # those name no address / namespace, the dev server of temporal-dev.yml is meant.
    temporal_profile: str | None = None
    task_queue: str = "aftercare"
    # How long an API request waits on Temporal (start, update) before answering 503 instead.
    temporal_call_timeout_seconds: float = 15.0
    # `make dev` only: run the dev server on other ports or another file than temporal-dev.yml says.
    temporal_dev_port: int | None = None
    temporal_dev_ui_port: int | None = None
    temporal_dev_db_file: Path | None = None
    # The Temporal Web UI staff open from the console to see a case's workflow (e.g.
    # https://temporal.school.example). Default: the dev server's UI (temporal-dev.yml's ui_port).
    temporal_ui_url: str | None = None
    # host:port where the worker serves the Temporal SDK's runtime metrics for Prometheus
    # (http://<address>/metrics); "0.0.0.0:9464" to let a scraper on another host in. "" = none.
    worker_metrics_address: str = "127.0.0.1:9464"
    # Worker tuning; docs/benchmarks.md gives what each was measured to do on a 2-core machine.
    # Activities at once, and threads to run the synchronous ones (each holds a database connection).
    worker_activity_slots: int = Field(default=16, ge=1, le=512)
    # Workflow runs kept in memory between their tasks (the sticky cache): a run evicted from it is
    # replayed from its history at its next task. Bounds the worker's memory however many are open.
    # It needs to hold the cases in motion, not all those open: under a flood of new cases their first
    # steps wait behind cases under way (workflows/messenger.py, INTAKE_PRIORITY), so few are in motion.
    worker_max_cached_workflows: int = Field(default=1000, ge=0, le=100_000)
    # Workflow tasks the worker takes from the server at once. Their code runs on one core (Python's
    # GIL): with the SDK's default of 100, under a saturating load a task waited in the worker past its
    # 10 s timeout and was redone, and SLA breaches were written up to 38 s late; with 8 they wait in the
    # server instead, in priority order (docs/benchmarks.md, "Scale").
    worker_workflow_task_slots: int = Field(default=8, ge=2, le=1000)
    worker_workflow_pollers: int = Field(default=5, ge=1, le=100)
    worker_activity_pollers: int = Field(default=5, ge=1, le=100)
    # Our pure modules (domain, activity classes, pydantic) shared with the workflow sandbox rather
    # than imported again for every workflow run.
    worker_sandbox_passthrough: bool = True

    # --- HTTP API ------------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Where the outside world (payment gateways) reaches this API; callback URLs are built from it.
    # Default: http://<api_host>:<api_port>.
    public_base_url: str | None = None
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_ttl_minutes: int = 12 * 60
    # When set, GET /metrics (the application metrics for Prometheus) asks for
    # `Authorization: Bearer <metrics_token>`; unset, it is open (docs/operations.md, Metrics).
    metrics_token: SecretStr | None = None

    # --- rate limits (api/rate_limits.py; docs/architecture.md, Security, says why these numbers) --
    # "<burst>/<period>": that many at once, then one more each period/burst (units s, m, h, d);
    # "" = no limit. Each API process counts on its own (N replicas: up to N times these).
    # Failed sign-ins (API token and console form) from one client address, and for one account
    # from anywhere; a success costs nothing.
    rate_limit_login_per_ip: str = "60/10m"
    rate_limit_login_per_account: str = "10/15m"
    # Calls to a webhook (gateway notifications, the mail relay, WeChat's Official Account) from
    # one address, per webhook: a ceiling far above what a gateway sends, against floods.
    rate_limit_webhooks_per_ip: str = "3000/1m"
    # Webhook calls from one address that fail verification (unsigned, forged, stale).
    rate_limit_webhook_refusals_per_ip: str = "20/1m"
    # Behind a reverse proxy: the header it writes the client's address in (X-Forwarded-For,
    # X-Real-IP). Unset: the TCP peer (uvicorn already reads X-Forwarded-For from 127.0.0.1, see
    # --forwarded-allow-ips). Set it only if nothing reaches the API except through the proxy.
    client_ip_header: str | None = None
    # In a list header (X-Forwarded-For): how many proxies of ours append to it; the address that
    # many entries from the right is the client's (entries further left are the client's say).
    client_ip_trusted_proxies: int = 1

    # --- mail ----------------------------------------------------------------------------------
    # When smtp_host is set, mail goes to that server and `make dev` does not start its mailbox.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 15.0
    smtp_ca_file: Path | None = None  # trust this CA too (a relay with a private certificate)
    mail_from: str = "Aftercare 学员服务 <service@aftercare.local>"
    # The dev mailbox (aiosmtpd) that `make dev` runs when smtp_host is unset.
    dev_mailbox_port: int = 1025
    dev_mailbox_dir: Path | None = None  # default: <data_dir>/mailbox

    # --- support contact shown in every student notice -----------------------------------------
    support_phone: str = "400-820-1234"
    support_email: str = "support@aftercare.local"
    support_hours: str = "09:00-21:00"

    # --- payment gateways ----------------------------------------------------------------------
    # WeChat Pay APIv3. With the key files unset in dev mode, the client uses the dev keys under
    # <data_dir>/keys and talks to the sandbox gateway instead.
    wechatpay_mchid: str | None = None
    wechatpay_merchant_serial: str | None = None
    wechatpay_private_key_file: Path | None = None
    wechatpay_apiv3_key: SecretStr | None = None
    wechatpay_platform_public_key_file: Path | None = None
    wechatpay_platform_serial: str | None = None
    wechatpay_base_url: str = "https://api.mch.weixin.qq.com"
    # Alipay OpenAPI, the same way.
    alipay_app_id: str | None = None
    alipay_private_key_file: Path | None = None
    alipay_public_key_file: Path | None = None
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    # The commerce system's hook (enrollment revocation after a refund). In dev mode, unset means
    # the sandbox gateway's stand-in at <sandbox>/sandbox/commerce, which records every call.
    commerce_hook_url: str | None = None
    commerce_hook_secret: SecretStr = SecretStr(DEV_COMMERCE_HOOK_SECRET)
    # Video support rooms for complaints (integrations/video_rooms.py). "link": a room link made from
    # video_room_base_url (e.g. a self-hosted Jitsi, https://meet.school.example) with an
    # unguessable room name signed by video_room_secret. Unset base URL in dev mode: the sandbox's
    # room page; in production, unset means no video rooms.
    video_room_provider: str = "link"
    video_room_base_url: str | None = None
    video_room_secret: SecretStr = SecretStr(DEV_VIDEO_ROOM_SECRET)
    # The sandbox gateway (devstack/sandbox_gateway.py): both protocols, for dev and tests.
    sandbox_gateway_port: int = 8090
    sandbox_gateway_url: str | None = None  # default: http://127.0.0.1:<sandbox_gateway_port>
    sandbox_callback_delay_seconds: float = 2.0

    # --- notices -------------------------------------------------------------------------------
    # Beijing-time hours in which no SMS goes out ("21:00-08:00"); it waits until they end. "" = none.
    sms_quiet_hours: str = "21:00-08:00"

    # --- SMS -----------------------------------------------------------------------------------
    # Aliyun SMS (integrations/aliyun_sms.py). Unset: the dev outbox in dev mode, no SMS otherwise.
    aliyun_sms_access_key_id: str | None = None
    aliyun_sms_access_key_secret: SecretStr | None = None
    aliyun_sms_sign_name: str | None = None
    # JSON: notice event → approved template code, e.g. {"refund_received": "SMS_465380002", ...}
    aliyun_sms_templates: dict[str, str] = {}
    aliyun_sms_endpoint: str = "dysmsapi.aliyuncs.com"

    # --- WeChat mini-program subscribe messages (integrations/wechat_message.py) ----------------
    # Unset: the sandbox's stand-in for WeChat in dev mode, no WeChat messages otherwise.
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    # JSON: notice event → {"template_id": …, "fields": {"thing1": "course", …}, "page": …}
    wechat_templates: dict[str, dict[str, Any]] = {}
    wechat_api_base_url: str = "https://api.weixin.qq.com"

    # --- complaints ------------------------------------------------------------------------------
    # The follow-up visit (a satisfaction survey) this long after a resolution; then the survey stays
    # open this long before the complaint is archived.
    complaint_follow_up_after_minutes: int = 72 * 60
    complaint_survey_open_minutes: int = 7 * 24 * 60

    # --- complaint intake channels (api/routes/intake.py, api/routes/wechat_official.py) --------
    # Mail to this address becomes a complaint (or, replying to one, is added to it): the mail
    # provider's inbound relay — the dev mailbox in dev — POSTs each message to /api/intake/email,
    # signed as integrations/signed_post.py says with intake_secret. The dev default secret works
    # only in dev mode.
    complaint_inbox_address: str = "complaints@aftercare.local"
    intake_secret: SecretStr = SecretStr(DEV_INTAKE_SECRET)
    # The Token entered for the school's WeChat Official Account server (plaintext mode): WeChat
    # signs every call to /api/intake/wechat with it. The dev default works only in dev mode.
    wechat_official_token: SecretStr = SecretStr(DEV_WECHAT_OFFICIAL_TOKEN)
    # The same account's AppID and AppSecret, for notices to the students who write to it
    # (customer-service messages, integrations/wechat_official_messages.py). Unset: the sandbox's
    # stand-in for WeChat in dev mode, no such notices otherwise.
    wechat_official_app_id: str | None = None
    wechat_official_app_secret: SecretStr | None = None
    wechat_official_api_base_url: str = "https://api.weixin.qq.com"

    # --- staff chat ------------------------------------------------------------------------------
    # Apprise URLs of the team's rooms, space-separated (integrations/staff_chat.py). In dev mode,
    # unset means the sandbox's stand-in room at <sandbox>/sandbox/staff-chat.
    staff_chat_urls: str | None = None

    # --- dev stack -----------------------------------------------------------------------------
    temporal_dev_config: Path = PROJECT_ROOT / "temporal-dev.yml"
    dev_mode: bool = True  # enables /dev/mail; switch off in production

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """What repr and str show: secrets are SecretStr already; a URL shows no password or token
        (a database URL may carry one), and a chat room's URL, which is its token, only its kind."""
        for name, value in super().__repr_args__():
            if name == "staff_chat_urls" and value:
                yield name, " ".join(scheme_only(url) for url in value.split())
            elif isinstance(value, str) and "://" in value:
                yield name, redacted_url(value)
            else:
                yield name, value

    @field_validator("sms_quiet_hours")
    @classmethod
    def _quiet_hours_readable(cls, value: str) -> str:
        QuietHours.parse(value)  # raises on anything but "HH:MM-HH:MM" or ""
        return value

    @field_validator(
        "rate_limit_login_per_ip",
        "rate_limit_login_per_account",
        "rate_limit_webhooks_per_ip",
        "rate_limit_webhook_refusals_per_ip",
    )
    @classmethod
    def _rate_limit_readable(cls, value: str) -> str:
        RateLimit.parse(value)  # raises on anything but "<count>/<period>" or ""
        return value

    @field_validator("client_ip_trusted_proxies")
    @classmethod
    def _at_least_one_proxy(cls, value: int) -> int:
        if value < 1:
            raise ValueError("AFTERCARE_CLIENT_IP_TRUSTED_PROXIES counts our proxies: 1 or more")
        return value

    @property
    def database_engine_options(self) -> dict[str, Any]:
        """build_engine's options: the pool's size and any SQLite pragmas set here."""
        pragmas = {
            "journal_mode": self.database_sqlite_journal_mode,
            "synchronous": self.database_sqlite_synchronous,
        }
        return {
            "pool_size": self.database_pool_size,
            "max_overflow": self.database_max_overflow,
            "sqlite_pragmas": {name: value for name, value in pragmas.items() if value is not None},
        }

    @property
    def sms_quiet_hours_window(self) -> QuietHours | None:
        return QuietHours.parse(self.sms_quiet_hours)

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if not self.dev_mode and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            raise ValueError("AFTERCARE_JWT_SECRET must be set when AFTERCARE_DEV_MODE is false")
        # HS256 wants a key as long as its hash; a short one can be guessed offline from any token.
        if not self.dev_mode and len(self.jwt_secret.get_secret_value().encode()) < JWT_SECRET_MIN_BYTES:
            raise ValueError(f"AFTERCARE_JWT_SECRET must be at least {JWT_SECRET_MIN_BYTES} bytes long")
        return self

    @property
    def callback_base_url(self) -> str:
        return (self.public_base_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def effective_commerce_hook_url(self) -> str | None:
        if self.commerce_hook_url:
            return self.commerce_hook_url
        return f"{self.sandbox_base_url}/sandbox/commerce" if self.dev_mode else None

    @property
    def effective_video_room_base_url(self) -> str | None:
        if self.video_room_base_url:
            return self.video_room_base_url.rstrip("/")
        return f"{self.sandbox_base_url}/sandbox/video" if self.dev_mode else None

    @property
    def video_room_secret_in_force(self) -> str | None:
        return _unless_dev_default(self.video_room_secret, DEV_VIDEO_ROOM_SECRET, self.dev_mode)

    @property
    def effective_staff_chat_urls(self) -> list[str]:
        if self.staff_chat_urls:
            return self.staff_chat_urls.split()
        if not self.dev_mode:
            return []
        host_and_port = self.sandbox_base_url.split("://", 1)[1].rstrip("/")
        return [f"json://{host_and_port}/sandbox/staff-chat"]

    @property
    def intake_secret_in_force(self) -> str | None:
        """The relay's signing secret; None (intake refused) in production while it is the dev one."""
        return _unless_dev_default(self.intake_secret, DEV_INTAKE_SECRET, self.dev_mode)

    @property
    def wechat_official_token_in_force(self) -> str | None:
        return _unless_dev_default(self.wechat_official_token, DEV_WECHAT_OFFICIAL_TOKEN, self.dev_mode)

    @property
    def intake_email_url(self) -> str:
        """Where the dev mailbox hands the complaint inbox's mail to this API."""
        return f"http://{self.api_host}:{self.api_port}/api/intake/email"

    @property
    def sandbox_base_url(self) -> str:
        return self.sandbox_gateway_url or f"http://127.0.0.1:{self.sandbox_gateway_port}"

    @property
    def sms_outbox_file(self) -> Path:
        """Where the dev SMS outbox keeps messages (no SMS provider is configured yet)."""
        return self.data_dir / "sms-outbox.jsonl"

    @property
    def mailbox_dir(self) -> Path:
        return self.dev_mailbox_dir or self.data_dir / "mailbox"

    @property
    def effective_smtp_host(self) -> str:
        """The SMTP server mail is sent to: the configured one, else the local dev mailbox."""
        return self.smtp_host or "127.0.0.1"

    @property
    def effective_smtp_port(self) -> int:
        return self.smtp_port if self.smtp_host else self.dev_mailbox_port


def _unless_dev_default(secret: SecretStr, dev_default: str, dev_mode: bool) -> str | None:
    value = secret.get_secret_value()
    return None if value == dev_default and not dev_mode else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
