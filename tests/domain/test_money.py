from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import fee_for, format_yuan, plain_yuan

paid = st.integers(min_value=0, max_value=10**10)
rate = st.integers(min_value=0, max_value=10_000)


@given(paid, rate)
def test_fee_and_refund_add_up_to_what_was_paid(paid_fen: int, fee_bp: int) -> None:
    fee = fee_for(paid_fen, fee_bp)
    refund = paid_fen - fee
    assert 0 <= fee <= paid_fen
    assert 0 <= refund <= paid_fen
    assert fee + refund == paid_fen


@given(paid, rate)
def test_fee_is_the_exact_percentage_rounded_half_up(paid_fen: int, fee_bp: int) -> None:
    exact_times_10000 = paid_fen * fee_bp
    fee = fee_for(paid_fen, fee_bp)
    # |fee - exact| <= half a fen, and exact halves go up.
    assert abs(fee * 10_000 - exact_times_10000) <= 5_000
    if exact_times_10000 % 10_000 == 5_000:
        assert fee * 10_000 > exact_times_10000


def test_rounding_examples() -> None:
    assert fee_for(199_900, 1_000) == 19_990  # 10% of ¥1999.00
    assert fee_for(5, 1_000) == 1  # 0.5 fen rounds up
    assert fee_for(4, 1_000) == 0  # 0.4 fen rounds down
    assert fee_for(15, 1_000) == 2  # 1.5 fen rounds up


@pytest.mark.parametrize(("paid_fen", "fee_bp"), [(-1, 0), (100, -1), (100, 10_001)])
def test_impossible_inputs_are_refused(paid_fen: int, fee_bp: int) -> None:
    with pytest.raises(ValueError):
        fee_for(paid_fen, fee_bp)


def test_yuan_formatting() -> None:
    assert format_yuan(0) == "¥0.00"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(199_900) == "¥1,999.00"
    assert format_yuan(-1_050) == "-¥10.50"
    # For spreadsheets: a number a cell reads as one.
    assert [plain_yuan(fen) for fen in (0, 5, 199_910, -1_050)] == ["0.00", "0.05", "1999.10", "-10.50"]
