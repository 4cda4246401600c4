"""Key material for the sandbox gateway and the clients that talk to it in dev and in tests:
generated once per data directory, never for production (real keys come from the settings).

    keys/wechatpay-merchant.pem   the merchant's private key (client signs requests)
    keys/wechatpay-platform.pem   WeChat Pay's platform private key (sandbox signs answers, callbacks)
    keys/wechatpay-apiv3.key      the APIv3 key (sandbox encrypts callback resources)
    keys/alipay-app.pem           the app's private key (client signs requests)
    keys/alipay-platform.pem      Alipay's private key (sandbox signs answers and notifications)
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.payments.wechatpay import load_private_key

WECHATPAY_MCHID = "1900000109"
WECHATPAY_MERCHANT_SERIAL = "SANDBOX0MERCHANT0SERIAL01"
WECHATPAY_PLATFORM_SERIAL = "PUB_KEY_ID_SANDBOX_0001"
ALIPAY_APP_ID = "2021000000000001"


@dataclass(frozen=True)
class DevKeys:
    wechatpay_merchant: rsa.RSAPrivateKey
    wechatpay_platform: rsa.RSAPrivateKey
    wechatpay_apiv3_key: bytes
    alipay_app: rsa.RSAPrivateKey
    alipay_platform: rsa.RSAPrivateKey


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_once(path: Path, content: bytes) -> None:
    """Create path with content unless it exists; never replace a key another process wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out:
        out.write(content)


def key_dir(data_dir: Path) -> Path:
    return data_dir / "keys"


def ensure_dev_keys(data_dir: Path) -> DevKeys:
    """Generate whatever key is missing under data_dir/keys, then load them all."""
    keys = key_dir(data_dir)
    for name in ("wechatpay-merchant.pem", "wechatpay-platform.pem", "alipay-app.pem", "alipay-platform.pem"):
        if not (keys / name).exists():
            _write_once(keys / name, _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    if not (keys / "wechatpay-apiv3.key").exists():
        _write_once(keys / "wechatpay-apiv3.key", secrets.token_hex(16).encode())  # 32 characters
    return load_dev_keys(data_dir)


def load_dev_keys(data_dir: Path) -> DevKeys:
    keys = key_dir(data_dir)
    return DevKeys(
        wechatpay_merchant=load_private_key((keys / "wechatpay-merchant.pem").read_bytes()),
        wechatpay_platform=load_private_key((keys / "wechatpay-platform.pem").read_bytes()),
        wechatpay_apiv3_key=(keys / "wechatpay-apiv3.key").read_bytes().strip(),
        alipay_app=load_private_key((keys / "alipay-app.pem").read_bytes()),
        alipay_platform=load_private_key((keys / "alipay-platform.pem").read_bytes()),
    )
