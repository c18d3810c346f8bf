"""Stable error codes of settlement (registered in core.errors.CODES)."""
from core.errors import register

INVALID_TRANSITION = register("invalid_trade_transition", 409, "成交当前状态不允许此操作",
                              "The trade's status does not allow this")
