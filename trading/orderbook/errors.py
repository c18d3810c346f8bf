"""Stable error codes of the order book (registered in core.errors.CODES)."""
from core.errors import register

ORDER_NOT_OPEN = register("order_not_open", 409, "委托已不在活动状态", "The order is no longer open")
INVALID_REDUCE = register("invalid_reduce", 400, "只能减少委托的剩余数量",
                          "An order can only be reduced below its remaining quantity")
TOO_MANY_OPEN_ORDERS = register("too_many_open_orders", 422, "该市场的未成交委托已达上限（{cap} 笔），请先撤单",
                                "The organization already has {cap} open orders in this market; cancel some first")
