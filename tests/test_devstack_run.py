from __future__ import annotations

from devstack.run import stand_ins
from settings import Settings


def test_make_dev_runs_its_own_mailbox_only_without_a_real_smtp_server() -> None:
    assert [name for name, _ in stand_ins(Settings(smtp_host=None))] == ["dev mailbox", "sandbox gateway"]
    assert [name for name, _ in stand_ins(Settings(smtp_host="smtp.school.example"))] == ["sandbox gateway"]


def test_with_a_real_smtp_server_mail_goes_there() -> None:
    real = Settings(smtp_host="smtp.school.example", smtp_port=587, dev_mailbox_port=1025)
    assert (real.effective_smtp_host, real.effective_smtp_port) == ("smtp.school.example", 587)
    dev = Settings(smtp_host=None, smtp_port=587, dev_mailbox_port=2525)
    assert (dev.effective_smtp_host, dev.effective_smtp_port) == ("127.0.0.1", 2525)


def test_production_refuses_the_development_signing_secret() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="AFTERCARE_JWT_SECRET must be set"):
        Settings(dev_mode=False)
    assert not Settings(dev_mode=False, jwt_secret="a-real-secret-from-the-vault-0123456789").dev_mode


def test_in_production_the_dev_intake_secrets_open_nothing() -> None:
    real_jwt = "a-real-secret-from-the-vault-0123456789"
    production = Settings(dev_mode=False, jwt_secret=real_jwt)
    assert (production.intake_secret_in_force, production.wechat_official_token_in_force) == (None, None)
    configured = Settings(
        dev_mode=False, jwt_secret=real_jwt, intake_secret="relay-secret", wechat_official_token="oatoken"
    )
    assert (configured.intake_secret_in_force, configured.wechat_official_token_in_force) == (
        "relay-secret",
        "oatoken",
    )
    dev = Settings(api_port=8123)
    assert dev.intake_secret_in_force == "dev-intake-secret"
    assert dev.intake_email_url == "http://127.0.0.1:8123/api/intake/email"
