"""Stable error codes of paired assistance and support commitments (registered in core.errors.CODES)."""
from core.errors import register

NOT_A_GOVERNMENT = register("assistance_party_not_government", 400, "对口帮扶双方必须是县（市、区）或设区市人民政府",
                            "Both parties of a paired-assistance pair must be county or city governments")
SAME_PARTY = register("assistance_same_party", 400, "帮扶方与受援方不能相同",
                      "The paying and the receiving government must differ")
PAIR_EXISTS = register("assistance_pair_exists", 409, "该对口帮扶关系已存在，请提交新版本协议",
                       "This pair already exists; propose a new agreement version instead")
MINIMUM_BELOW_PLAN = register("assistance_minimum_below_plan", 400, "年度帮扶资金不得低于规划要求的 {floor} 元",
                              "The annual amount may not be below the plan's minimum of {floor} yuan")
NOT_A_PROPOSER = register("assistance_not_a_proposer", 403,
                          "只有结对双方的管理员或省级监管机构的审核人员可以提出协议",
                          "Only an admin of either party or an approver of the provincial regulator may propose "
                          "an agreement")
NOT_AN_AGREEMENT_APPROVER = register("assistance_not_an_approver", 403, "协议须由省级监管机构的审核人员批准",
                                     "An agreement is approved by an approver or admin of the provincial regulator")
PROPOSER_CANNOT_APPROVE = register("assistance_proposer_cannot_approve", 403, "提出人不得批准自己提出的协议",
                                   "Whoever proposed the agreement cannot approve it")
APPROVER_IS_PARTY = register("assistance_approver_is_party", 403, "审批人不得是结对任何一方的成员（无论以何种身份）",
                             "The approver may not be a member, through any membership, of either party")
AGREEMENT_CLOSED = register("assistance_agreement_closed", 409, "该协议版本已审结", "This agreement version is decided")
NO_AGREEMENT = register("assistance_no_agreement", 422, "该年度没有已批准的帮扶协议",
                        "No approved agreement is in force for that year")
INVALID_YEAR = register("assistance_invalid_year", 400, "年度无效：只能为本年度或上一年度付款",
                        "Invalid year: payments are for the current or the previous year")
NOT_THE_PAYER = register("assistance_not_the_payer", 403, "只有付款方政府的工作人员可以发起付款",
                         "Only members of the paying government may propose its payment")
NOT_A_CHECKER = register("assistance_not_a_checker", 403, "付款须由付款方政府的另一名管理员或审核人员确认",
                         "A payment is confirmed by another admin or approver of the paying government")
MAKER_CANNOT_CHECK = register("assistance_maker_cannot_check", 403, "发起人不得确认自己发起的付款",
                              "Whoever proposed the payment cannot confirm it")
CHECKER_IS_PAYEE = register("assistance_checker_is_payee", 403, "确认人不得是收款方的成员",
                            "The confirming person may not be a member of the receiving government")
PAYMENT_CLOSED = register("assistance_payment_closed", 409, "该付款申请已处理", "This payment request is decided")
INVALID_PURPOSE = register("assistance_invalid_purpose", 400, "用途代码无效", "Invalid purpose code")
NOT_A_FARMLAND_TRADE = register("assistance_not_a_farmland_trade", 400, "帮扶承诺只能针对已结算的耕地指标交易",
                                "A support commitment refers to a settled farmland-quota trade")
NOT_THE_BUYER = register("assistance_not_the_buyer", 403, "只有该交易的买方可以作出帮扶承诺",
                         "Only the trade's buyer may record a support commitment against it")
WRONG_FULFILMENT = register("assistance_wrong_fulfilment", 400,
                            "资金类承诺以付款兑现，产业转移和基础设施类承诺以实物兑现并附证明材料",
                            "A cash commitment is fulfilled by payments; industry-transfer and infrastructure "
                            "commitments in kind, with evidence")
NOT_THE_SUPPORTER = register("assistance_not_the_supporter", 403, "只有作出承诺的一方可以登记兑现",
                             "Only the committing party records its fulfilment")
COMMITMENT_FULFILLED = register("assistance_commitment_fulfilled", 409, "该承诺已兑现完毕",
                                "This commitment is already fulfilled")
EVIDENCE_REQUIRED = register("assistance_evidence_required", 400, "实物兑现须附证明材料（文件编号与说明）",
                             "An in-kind fulfilment needs evidence (a document reference and a description)")
