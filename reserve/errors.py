"""Stable error codes of the government reserve (registered in core.errors.CODES)."""
from core.errors import register

NOT_RESERVE_BODY = register("not_reserve_body", 403, "本机构不是该权利类型的收储主体",
                            "Your organization does not hold the reserve of this right type")
INVALID_RESERVE_BODY = register("invalid_reserve_body", 400, "收储主体须为政府机构",
                                "A reserve is held by a government body")
DESIGNATION_NOT_PROPOSED = register("designation_not_proposed", 409, "该收储主体指定已处理",
                                    "This reserve designation has already been decided")
NOTICE_NOT_OPEN = register("buyback_not_open", 409, "收储公告已结束", "The buy-back notice is closed")
TENDER_EXCEEDS_REMAINING = register("tender_exceeds_remaining", 409, "申报数量超过收储公告剩余数量",
                                    "The tender exceeds what the notice still buys")
OWN_NOTICE = register("own_buyback", 403, "收储主体不能向本机构的收储公告申报",
                      "The reserve body cannot tender into its own notice")
BELOW_FLOOR = register("reserve_below_floor", 422, "收储投放价格低于指导价下限（每单位 {floor} 元）",
                       "A reserve sale may not be priced below the guided floor ({floor} yuan per unit)")
RELEASE_KIND = register("reserve_release_kind", 400, "收储投放只能采用挂牌（固定价格）或拍卖方式",
                        "A reserve release is a fixed-price listing or an auction")
