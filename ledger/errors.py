"""The ledger's stable error codes (registered in the one code table, core.errors.CODES)."""
from core.errors import register

UNKNOWN_ASSET = register("unknown_asset", 400, "未知资产", "Unknown asset")
ASSET_EXPIRED = register("asset_expired", 400, "权利已过期，只能注销或由主管部门作过期处理",
                         "The right has expired; it can only be retired or expired by its authority")
INSUFFICIENT_BALANCE = register("insufficient_balance", 400, "可用余额不足", "Insufficient available balance")
INSUFFICIENT_HELD = register("insufficient_held", 409, "冻结余额不足", "Insufficient held balance")
INVALID_AMOUNT = register("invalid_amount", 400, "数量必须为正数", "The amount must be positive")
TOO_MANY_DECIMALS = register("too_many_decimals", 400, "小数位数超过资产精度",
                             "More decimal places than the asset allows")
NOT_AN_ISSUER = register("not_an_issuer", 403, "该机构无权发行权利", "This organization may not issue rights")
ISSUER_OUT_OF_JURISDICTION = register("issuer_out_of_jurisdiction", 403, "超出发行机构辖区",
                                      "The right's origin region is outside the issuer's jurisdiction")
EVIDENCE_REQUIRED = register("evidence_required", 400, "缺少必要的证明材料", "Required evidence is missing")
NOT_A_RIGHT = register("not_a_right", 400, "该资产不是权利", "The asset is not a right")
NOT_A_CASH_ASSET = register("not_cash", 400, "该资产不是资金", "The asset is not cash")
ASSET_NOT_EXPIRED = register("asset_not_expired", 400, "权利尚未过期", "The right has not expired yet")
ASSET_EXISTS = register("asset_exists", 409, "资产代码已存在", "An asset with this code already exists")
UNKNOWN_RIGHT_TYPE = register("unknown_right_type", 400, "未知的权利类型", "Unknown right type")
BASIN_REQUIRED = register("basin_required", 400, "该类权利必须指定流域", "This right type must name a river basin")
SAME_ORGANIZATION = register("same_organization", 400, "转出方与转入方不能相同",
                             "Sender and recipient must be different organizations")
NOTHING_TO_EXPIRE = register("nothing_to_expire", 409, "该持有人没有可作过期处理的余额",
                             "The holder has no available balance of this right left to expire")
IDEMPOTENCY_KEY_REQUIRED = register("idempotency_key_required", 400, "缺少 Idempotency-Key 请求头",
                                    "The Idempotency-Key header is required")
INVALID_PROOF_RANGE = register("invalid_proof_range", 400, "证明区间无效（需 0 < from ≤ to，且均为检查点）",
                               "Invalid proof range (need 0 < from <= to, both checkpoint tree sizes)")
