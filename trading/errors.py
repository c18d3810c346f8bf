"""Stable error codes of trading (registered in accounts.errors.CODES)."""
from accounts.errors import register

ORDER_NOT_OPEN = register("order_not_open", 409, "委托已不在活动状态", "The order is no longer open")
INVALID_REDUCE = register("invalid_reduce", 400, "只能减少委托的剩余数量",
                          "An order can only be reduced below its remaining quantity")
INVALID_TRANSITION = register("invalid_trade_transition", 409, "成交当前状态不允许此操作",
                              "The trade's status does not allow this")
TOO_MANY_OPEN_ORDERS = register("too_many_open_orders", 422, "该市场的未成交委托已达上限（{cap} 笔），请先撤单",
                                "The organization already has {cap} open orders in this market; cancel some first")
