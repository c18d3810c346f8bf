"""Stable error codes of package bids (registered in core.errors.CODES). A package that is placed but does
not fill is not an error: it is recorded `unfilled` with one of the `reason` codes below (or the code of
the check that refused its leg, e.g. `market_halted`, `listing_not_open`, `W-BASIN-001`)."""
from core.errors import register

INVALID_PACKAGE = register("invalid_package", 400, "组合竞买的分项无效：每项须且只能指定一个市场或一个挂牌，且不得重复",
                           "Invalid package legs: each names exactly one market or one listing, none twice")
PACKAGE_TOO_LARGE = register("package_too_large", 400, "组合竞买最多 {limit} 个分项",
                             "A package has at most {limit} legs")
PACKAGE_UNBOUNDED = register("package_unbounded", 400, "市场分项须给出限价",
                             "A market leg needs a limit price")
# reasons of an unfilled package (also codes: a client may show their text)
LEG_NOT_FILLABLE = register("package_leg_not_fillable", 409,
                            "组合竞买第 {leg} 项无法在限价内全部成交，整体未成交，冻结资金已全部释放",
                            "Leg {leg} of the package cannot be bought in full within its limit: nothing was "
                            "bought and the escrow was released in full")
LEG_ABOVE_LIMIT = register("package_leg_above_limit", 409, "组合竞买第 {leg} 项的挂牌价高于限价",
                           "Leg {leg}'s listing price is above the leg's limit price")
LEG_NEEDS_APPROVAL = register("package_leg_needs_approval", 409,
                              "组合竞买第 {leg} 项的交易须经审批或公示，组合竞买须即时整体交收，故未成交",
                              "Leg {leg}'s trade would need an approval or a public notice; a package settles at "
                              "once as a whole, so it did not fill")
OVER_TOTAL_LIMIT = register("package_over_total_limit", 409, "组合竞买总价（含手续费）超过总限额",
                            "The package would cost more than its total limit (fees included)")
