"""Stable error codes of compensation agreements (registered in the one code table, core.errors.CODES)."""
from core.errors import register

INVALID_AGREEMENT = register("invalid_agreement", 400, "补偿协议内容无效", "The agreement's content is invalid")
AGREEMENT_EXISTS = register("agreement_exists", 409, "协议编号已存在", "An agreement with this code already exists")
ESCROW_DOES_NOT_COVER = register("escrow_does_not_cover", 400, "出资额不足以覆盖协议可能的最大支付额",
                                 "A party's contribution does not cover the most the terms can make it pay")
NOT_A_PARTY_ADMIN = register("not_a_party_admin", 403, "只有协议当事方的管理员可以签署或提出异议",
                             "Only an admin of a party to the agreement may sign or object")
VERSION_NOT_SIGNING = register("version_not_signing", 409, "该协议版本不在签署阶段",
                               "This agreement version is not awaiting signatures")
ALREADY_SIGNED = register("already_signed", 409, "该当事方已签署", "This party has already signed")
COMPENSATION_APPROVAL_CLOSED = register("compensation_approval_closed", 409, "该审批已结束",
                                        "This approval is closed")
COMPENSATION_APPROVER_CONFLICT = register("compensation_approver_conflict", 403,
                                          "协议当事方的成员或提出人不得审批",
                                          "A member of a party, or the proposer, may not decide")
COMPENSATION_NOT_AN_APPROVER = register("compensation_not_an_approver", 403,
                                        "只有监管机构或交易中心的审核员、管理员可以审批",
                                        "Only approvers or admins of a regulator or the exchange operator decide")
COMPENSATION_FINAL_APPROVER = register("compensation_final_approver", 403, "终审须由省级监管机构作出",
                                       "The final approval must come from the provincial regulator")
COMPENSATION_ALREADY_APPROVED = register("compensation_already_approved", 409, "同一人不得重复审批",
                                         "The same person cannot approve twice")
NOT_A_STATION = register("not_a_station", 403, "只有负责该断面的监测站可以报送监测数据",
                         "Only the monitoring station of the section may submit its measurements")
INVALID_MEASUREMENT = register("invalid_measurement", 400, "监测数据无效", "Invalid measurement")
CORRECTION_REASON_REQUIRED = register("correction_reason_required", 400, "更正已报送的数据必须说明原因",
                                      "A correction of submitted data needs a reason")
OBJECTION_WINDOW_CLOSED = register("objection_window_closed", 409, "异议期已过或考核结果已结算",
                                   "The objection window is over, or the result is settled")
OBJECTION_NOT_OPEN = register("objection_not_open", 409, "该异议已处理", "This objection has been resolved")
# cross-provincial agreements (a party or a section in another province): each province's regulator decides
COMPENSATION_PROVINCE_APPROVER = register(
    "compensation_province_approver", 403, "跨省协议及其考核结果须由所涉各省的省级监管机构审批",
    "A cross-provincial agreement and its results are decided by the provincial regulator of each province "
    "involved")
COMPENSATION_PROVINCE_DONE = register(
    "compensation_province_done", 409, "本省监管机构已完成两人审批，尚待另一省份监管机构审批",
    "This province's regulator has given its two approvals; the other province's regulator must approve")
