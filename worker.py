"""The worker: builds every dependency once, registers workflows and activities, and runs.

python worker.py        (make dev starts it for you)
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.commerce import CommerceActivities
from activities.compensation import CompensationActivities
from activities.complaints import ComplaintActivities
from activities.finance import FinanceActivities
from activities.notify import NotifyActivities
from activities.payments import PaymentActivities
from activities.records import RecordActivities
from activities.review import ReviewActivities
from activities.video_rooms import VideoRoomActivities
from activities.webhooks import WebhookActivities
from db.engine import SessionFactory, build_engine
from db.template_store import TemplateStore
from integrations import temporal
from integrations.commerce import CommerceHook
from integrations.mail import SmtpConfig, SmtpMailer
from integrations.notice_renderer import school_renderer
from integrations.payments.registry import build_gateways
from integrations.sms import build_sms_sender
from integrations.staff_chat import StaffChat
from integrations.video_rooms import build_video_rooms
from integrations.wechat_message import build_wechat
from integrations.wechat_official_messages import build_official_account_messages
from settings import Settings, get_settings
from workflows.complaint import ComplaintWorkflow
from workflows.refund import RefundWorkflow

WORKFLOWS = [RefundWorkflow, ComplaintWorkflow]
# Modules the workflow sandbox takes from outside instead of re-importing per run: our pure domain
# types and the activity classes whose methods workflows reference (#585 on Python 3.11 too).
PASSTHROUGH_MODULES = ("domain", "activities", "pydantic", "pydantic_core", "annotated_types")


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.effective_smtp_host,
        port=settings.effective_smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_ssl,
        timeout_seconds=settings.smtp_timeout_seconds,
        ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
    )


def build_activities(settings: Settings, sessions: SessionFactory) -> list:
    records = RecordActivities(sessions)
    review = ReviewActivities(sessions)
    finance = FinanceActivities(sessions)
    gateways = build_gateways(settings)
    complaints = ComplaintActivities(sessions, gateways.keys())
    webhooks = WebhookActivities(sessions)
    staff_chat_urls = settings.effective_staff_chat_urls
    notify = NotifyActivities(
        sessions,
        school_renderer(settings, TemplateStore(sessions)),
        SmtpMailer(smtp_config(settings)),
        settings.mail_from,
        build_sms_sender(settings),
        StaffChat(staff_chat_urls) if staff_chat_urls else None,
        build_wechat(settings),
        complaint_reply_to=settings.complaint_inbox_address,
        wechat_official=build_official_account_messages(settings),
    )
    payments = PaymentActivities(gateways, settings.callback_base_url, sessions)
    hook_url = settings.effective_commerce_hook_url
    hook = CommerceHook(hook_url, settings.commerce_hook_secret.get_secret_value()) if hook_url else None
    commerce = CommerceActivities(hook)
    compensation = CompensationActivities(sessions, hook)
    return [
        records.record_refund_event,
        review.assign_reviewer,
        notify.send_notice,
        payments.request_gateway_refund,
        payments.query_gateway_refund,
        commerce.revoke_enrollment,
        finance.open_finance_task,
        finance.close_finance_task,
        webhooks.fan_out_event,
        webhooks.deliver_webhook,
        complaints.record_complaint_event,
        complaints.assign_complaint,
        complaints.take_in_refund,
        VideoRoomActivities(build_video_rooms(settings)).open_video_room,
        compensation.reserve_compensation,
        compensation.issue_compensation,
        compensation.settle_compensation,
    ]


def workflow_runner(passthrough: bool = True) -> SandboxedWorkflowRunner:
    restrictions = SandboxRestrictions.default
    if passthrough:
        restrictions = restrictions.with_passthrough_modules(*PASSTHROUGH_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)


def worker_tuning(settings: Settings) -> dict:
    """Worker options the settings tune (docs/benchmarks.md: what each was measured to do)."""
    return {
        # No more activities at once than threads to run the synchronous ones.
        "max_concurrent_activities": settings.worker_activity_slots,
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "max_concurrent_workflow_tasks": settings.worker_workflow_task_slots,
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(settings.worker_workflow_pollers),
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(settings.worker_activity_pollers),
        "workflow_runner": workflow_runner(settings.worker_sandbox_passthrough),
    }


def build_worker(
    client: Client, settings: Settings, sessions: SessionFactory, executor: ThreadPoolExecutor
) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(settings, sessions),
        activity_executor=executor,
        **worker_tuning(settings),
    )


def metrics_runtime(settings: Settings) -> Runtime | None:
    """The runtime serving the SDK's metrics on settings.worker_metrics_address (None: off). An
    address that is taken or malformed stops the worker with a message naming the setting, rather
    than leaving it running unobserved."""
    address = settings.worker_metrics_address
    try:
        runtime = temporal.metrics_runtime(address)
    except ValueError as exc:
        raise SystemExit(
            f"worker: cannot serve SDK metrics on {address!r} (AFTERCARE_WORKER_METRICS_ADDRESS): {exc}"
        ) from exc
    if runtime is not None:
        logging.info("SDK metrics for Prometheus on http://%s/metrics", address)
    return runtime


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    settings = get_settings()
    runtime = metrics_runtime(settings)
    sessions = SessionFactory(build_engine(settings.database_url, **settings.database_engine_options))
    client = await temporal.connect(settings, runtime=runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    threads = settings.worker_activity_slots
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activity") as executor:
        async with build_worker(client, settings, sessions, executor):
            logging.info("worker polling task queue %r", settings.task_queue)
            await stop.wait()
    logging.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
    temporal.exit_skipping_teardown(0)
