"""Which gateway clients this deployment has; the worker and the API's notify route share them.

A gateway is configured by its key files in the settings. In dev mode, a gateway without them
talks to the sandbox gateway with the dev keys `make dev` generates (devstack/dev_keys.py)."""

from __future__ import annotations

import logging

from devstack import dev_keys
from domain.courses import Gateway
from integrations.payments.alipay import AlipayConfig, AlipayGateway
from integrations.payments.base import PaymentGateway
from integrations.payments.wechatpay import (
    WechatPayConfig,
    WechatPayGateway,
    load_private_key,
    load_public_key,
)
from settings import Settings

log = logging.getLogger(__name__)


def wechatpay_config(settings: Settings) -> WechatPayConfig | None:
    if settings.wechatpay_private_key_file is not None:
        required = (
            settings.wechatpay_mchid,
            settings.wechatpay_merchant_serial,
            settings.wechatpay_apiv3_key,
            settings.wechatpay_platform_public_key_file,
            settings.wechatpay_platform_serial,
        )
        if any(value is None for value in required):
            raise ValueError(
                "AFTERCARE_WECHATPAY_*: mchid, merchant serial, APIv3 key and platform key are all needed"
            )
        assert settings.wechatpay_apiv3_key and settings.wechatpay_platform_public_key_file
        return WechatPayConfig(
            mchid=str(settings.wechatpay_mchid),
            merchant_serial=str(settings.wechatpay_merchant_serial),
            merchant_private_key=load_private_key(settings.wechatpay_private_key_file.read_bytes()),
            apiv3_key=settings.wechatpay_apiv3_key.get_secret_value().encode(),
            platform_public_keys={
                str(settings.wechatpay_platform_serial): load_public_key(
                    settings.wechatpay_platform_public_key_file.read_bytes()
                )
            },
            base_url=settings.wechatpay_base_url,
        )
    keys = _dev_keys(settings)
    if keys is None:
        return None
    return WechatPayConfig(
        mchid=dev_keys.WECHATPAY_MCHID,
        merchant_serial=dev_keys.WECHATPAY_MERCHANT_SERIAL,
        merchant_private_key=keys.wechatpay_merchant,
        apiv3_key=keys.wechatpay_apiv3_key,
        platform_public_keys={dev_keys.WECHATPAY_PLATFORM_SERIAL: keys.wechatpay_platform.public_key()},
        base_url=settings.sandbox_base_url,
    )


def alipay_config(settings: Settings) -> AlipayConfig | None:
    if settings.alipay_private_key_file is not None:
        if settings.alipay_app_id is None or settings.alipay_public_key_file is None:
            raise ValueError(
                "AFTERCARE_ALIPAY_*: app id and Alipay's public key are needed with the private key"
            )
        return AlipayConfig(
            app_id=settings.alipay_app_id,
            app_private_key=load_private_key(settings.alipay_private_key_file.read_bytes()),
            alipay_public_key=load_public_key(settings.alipay_public_key_file.read_bytes()),
            gateway_url=settings.alipay_gateway_url,
        )
    keys = _dev_keys(settings)
    if keys is None:
        return None
    return AlipayConfig(
        app_id=dev_keys.ALIPAY_APP_ID,
        app_private_key=keys.alipay_app,
        alipay_public_key=keys.alipay_platform.public_key(),
        gateway_url=f"{settings.sandbox_base_url}/gateway.do",
    )


def _dev_keys(settings: Settings) -> dev_keys.DevKeys | None:
    if not settings.dev_mode:
        return None
    try:
        return dev_keys.load_dev_keys(settings.data_dir)
    except FileNotFoundError:
        log.warning("no dev payment keys under %s: run make dev (or devstack.dev_keys)", settings.data_dir)
        return None


def build_gateways(settings: Settings) -> dict[Gateway, PaymentGateway]:
    gateways: dict[Gateway, PaymentGateway] = {}
    if (wechat := wechatpay_config(settings)) is not None:
        gateways[Gateway.WECHATPAY] = WechatPayGateway(wechat)
    if (alipay := alipay_config(settings)) is not None:
        gateways[Gateway.ALIPAY] = AlipayGateway(alipay)
    return gateways
