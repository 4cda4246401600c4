"""Which gateway clients this deployment has; the worker and the API's notify route share them."""

from __future__ import annotations

from domain.courses import Gateway
from integrations.payments.base import PaymentGateway
from integrations.payments.sandbox import SandboxGateway
from settings import Settings


def build_gateways(settings: Settings) -> dict[Gateway, PaymentGateway]:
    return {
        Gateway.SANDBOX: SandboxGateway(
            settings.sandbox_base_url, settings.sandbox_gateway_secret.get_secret_value()
        ),
    }
