"""Money is integer fen (1 yuan = 100 fen) everywhere; floats never touch an amount.

Rounding rule: a percentage fee is computed in basis points (1 bp = 0.01%) and rounded half up to
the nearest fen, i.e. fee = floor((paid * bp + 5000) / 10000). The student receives paid - fee, so
refund + fee == paid always holds and neither is ever negative.
"""

from __future__ import annotations

BASIS_POINTS_PER_WHOLE = 10_000


def fee_for(paid_fen: int, fee_bp: int) -> int:
    """The fee kept on a refund of paid_fen at fee_bp basis points, rounded half up to the fen."""
    if paid_fen < 0:
        raise ValueError("paid amount cannot be negative")
    if not 0 <= fee_bp <= BASIS_POINTS_PER_WHOLE:
        raise ValueError("fee must be between 0 and 10000 basis points")
    return (paid_fen * fee_bp + BASIS_POINTS_PER_WHOLE // 2) // BASIS_POINTS_PER_WHOLE


def format_yuan(fen: int) -> str:
    """'¥1,234.50' — how amounts are shown to people."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def plain_yuan(fen: int) -> str:
    """'1234.50' — an amount for a spreadsheet: yuan to the fen, no symbol, no separators."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"
