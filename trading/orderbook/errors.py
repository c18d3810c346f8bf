"""Stable error codes of the order book (registered in core.errors.CODES)."""
from core.errors import register

ORDER_NOT_OPEN = register("order_not_open", 409, "委托已不在活动状态", "The order is no longer open")
INVALID_REDUCE = register("invalid_reduce", 400, "只能减少委托的剩余数量",
                          "An order can only be reduced below its remaining quantity")
