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
