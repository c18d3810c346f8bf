"""Stable error codes of market mechanics (registered in core.errors.CODES)."""
from core.errors import register

MARKET_HALTED = register("market_halted", 409, "市场已暂停交易", "The market is halted")
MARKET_CLOSED = register("market_closed", 409, "市场已关闭", "The market is closed")
OUTSIDE_SESSION = register("outside_trading_session", 409, "当前不在交易时段", "Outside trading hours")
PRICE_OFF_TICK = register("price_off_tick", 400, "价格不符合最小变动价位",
                          "The price is not a multiple of the tick size")
PRICE_OUTSIDE_BAND = register("price_outside_band", 400, "价格超出涨跌幅限制", "The price is outside the price band")
QUANTITY_OFF_LOT = register("quantity_off_lot", 400, "数量不是交易单位的整数倍",
                            "The quantity is not a multiple of the lot size")
BELOW_MIN_QUANTITY = register("below_min_quantity", 400, "数量低于最小申报量", "The quantity is below the minimum")
UNKNOWN_MARKET = register("unknown_market", 404, "市场不存在", "Unknown market")
ORGANIZATION_SUSPENDED = "organization_suspended"
NOT_A_TRADER = register("not_a_trader", 403, "该机构或角色无权交易", "This organization or role may not trade")
