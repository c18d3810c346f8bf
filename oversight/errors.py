"""Stable error codes of oversight (registered in core.errors.CODES)."""
from core.errors import register

APPROVAL_CLOSED = register("approval_closed", 409, "该审批已结束", "This approval request is closed")
PROPOSER_CANNOT_DECIDE = register("proposer_cannot_approve", 403, "发起人不得审批自己发起的交易",
                                  "Whoever proposed the trade cannot decide on its approval")
ALREADY_APPROVED = register("already_approved", 409, "您已批准过该交易，需由另一人作出第二次批准",
                            "You have already approved this trade; the second approval must come from someone else")
FINAL_APPROVER_JURISDICTION = register(
    "approver_not_in_jurisdiction", 403, "第二次批准须由 {jurisdiction} 管辖的监管机构作出",
    "The second approval must come from the regulator of {jurisdiction}")
NOT_AN_APPROVER = register("not_an_approver", 403, "只有交易中心或辖区监管机构的审核人员可以审批",
                           "Only approvers of the exchange operator or of a regulator in whose jurisdiction the "
                           "trade lies may decide")
NO_APPROVAL_NEEDED = register("no_approval_needed", 409, "该交易只需公示，无需审批",
                              "This trade only waits for its public notice; there is nothing to approve")
APPROVALS_COMPLETE = register("approvals_complete", 409, "该交易已获两次批准，正在等待公示期结束",
                              "This trade has both approvals and waits for its public notice to end")
NOT_IN_NOTICE = register("not_in_public_notice", 409, "该交易不在公示期内",
                         "This trade is not in a public-notice period")
ONLY_REGULATOR_OBJECTS = register("only_regulator_objects", 403, "只有监管机构可以在公示期内提出异议",
                                  "Only a regulator may object during the public notice")
RULEBOOK_FORBIDDEN = register("rulebook_forbidden", 403, "只有交易中心或省级监管机构可以修改规则",
                              "Only the exchange operator or the provincial regulator may change the rulebook")
INVALID_RULE = register("invalid_rule", 400, "规则参数有误", "Invalid rule parameters")
RULEBOOK_IN_PAST = register("rulebook_effective_in_past", 400, "新版本的生效时间不能早于现在",
                            "A new rulebook version cannot take effect in the past")
