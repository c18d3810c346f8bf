"""Stable error codes of listings, auctions and negotiated transfers (registered in core.errors.CODES).

Codes reused from elsewhere: `evidence_required` (missing provenance), `insufficient_balance` (funds or
rights), `asset_expired` (expired instrument), `unknown_asset`, `not_a_right`, `organization_suspended`."""
from core.errors import register

LISTING_NOT_OPEN = register("listing_not_open", 409, "挂牌已结束或已撤销", "The listing is no longer open")
LISTING_NOT_STARTED = register("listing_not_started", 409, "挂牌尚未开始", "The listing has not started yet")
LISTING_ENDED = register("listing_ended", 409, "挂牌已到期", "The listing has ended")
AUCTION_NOT_STARTED = register("auction_not_started", 409, "竞价尚未开始", "The auction has not started yet")
AUCTION_ENDED = register("auction_ended", 409, "竞价已结束", "The auction has ended")
WRONG_LISTING_KIND = register("wrong_listing_kind", 409, "该挂牌方式不支持此操作",
                              "This kind of listing does not allow this action")
OWN_LISTING = register("own_listing", 403, "不能购买或竞买本机构的挂牌",
                       "An organization cannot buy or bid on its own listing")
NOT_LISTING_SELLER = register("not_listing_seller", 403, "只有挂牌方可以执行此操作",
                              "Only the listing's seller may do this")
NOT_NAMED_BUYER = register("not_named_buyer", 403, "只有协议转让指定的受让方可以执行此操作",
                           "Only the named buyer of a negotiated transfer may do this")
LISTING_HAS_BIDS = register("listing_has_bids", 409, "竞价已有出价，不能撤销",
                            "The auction has bids and cannot be cancelled")
BID_BELOW_RESERVE = register("bid_below_reserve", 400, "出价低于起拍价（保留价）", "The bid is below the reserve price")
BID_BELOW_INCREMENT = register("bid_below_increment", 400, "出价未达到当前最高价加最小加价幅度",
                               "The bid is below the current best bid plus the minimum increment")
EXCEEDS_REMAINING = register("exceeds_remaining", 409, "购买数量超过挂牌剩余数量",
                             "The quantity exceeds what is left of the listing")
LISTING_INDIVISIBLE = register("listing_indivisible", 400, "该挂牌不可拆分，须整体购买",
                               "This listing is indivisible: buy all of it")
BELOW_MIN_PURCHASE = register("below_min_purchase", 400, "购买数量低于最小认购量",
                              "The quantity is below the listing's minimum purchase")
INVALID_LISTING_TERMS = register("invalid_listing_terms", 400, "挂牌条件无效", "Invalid listing terms")
INVALID_NAMED_BUYER = register("invalid_named_buyer", 400, "指定受让方无效（不存在、已暂停、为本机构或无权交易）",
                               "Invalid named buyer (unknown, suspended, the seller itself, or not allowed to trade)")
