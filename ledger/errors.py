"""The ledger's stable error codes (registered in the one code table, accounts.errors.CODES)."""
from accounts.errors import register

UNKNOWN_ASSET = register("unknown_asset", 400, "未知资产", "Unknown asset")
ASSET_EXPIRED = register("asset_expired", 400, "权利已过期，只能注销或由主管部门作过期处理",
                         "The right has expired; it can only be retired or expired by its authority")
INSUFFICIENT_BALANCE = register("insufficient_balance", 400, "可用余额不足", "Insufficient available balance")
INSUFFICIENT_HELD = register("insufficient_held", 409, "冻结余额不足", "Insufficient held balance")
INVALID_AMOUNT = register("invalid_amount", 400, "数量必须为正数", "The amount must be positive")
TOO_MANY_DECIMALS = register("too_many_decimals", 400, "小数位数超过资产精度", "More decimal places than the asset allows")
NOT_AN_ISSUER = register("not_an_issuer", 403, "该机构无权发行权利", "This organization may not issue rights")
ISSUER_OUT_OF_JURISDICTION = register("issuer_out_of_jurisdiction", 403, "超出发行机构辖区",
                                      "The right's origin region is outside the issuer's jurisdiction")
EVIDENCE_REQUIRED = register("evidence_required", 400, "缺少必要的证明材料", "Required evidence is missing")
NOT_A_RIGHT = register("not_a_right", 400, "该资产不是权利", "The asset is not a right")
NOT_A_CASH_ASSET = register("not_cash", 400, "该资产不是资金", "The asset is not cash")
ASSET_NOT_EXPIRED = register("asset_not_expired", 400, "权利尚未过期", "The right has not expired yet")
