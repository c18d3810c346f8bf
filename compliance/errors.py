"""Stable error codes of the compliance cycle (registered in core.errors.CODES, zh and en)."""
from core.errors import register

NOT_COVERED = register("compliance_not_covered", 422, "该权利类型在此区域未纳入履约管理（{right_type} {region}）",
                       "This right type has no compliance cycle in this region ({right_type} {region})")
YEAR_EXISTS = register("compliance_year_exists", 409, "该履约年度已存在", "This compliance year already exists")
COVERAGE_EXISTS = register("compliance_coverage_exists", 409, "该履约覆盖范围已存在",
                           "This compliance coverage already exists")
NOT_THE_AUTHORITY = register("compliance_not_authority", 403, "只有该履约年度的主管部门可以执行此操作",
                             "Only the compliance year's authority may do this")
COVERAGE_FORBIDDEN = register(
    "compliance_coverage_forbidden", 403, "只有辖区覆盖该区域的政府管理员可以设定履约覆盖范围",
    "Only an admin of a government whose division covers the region sets coverage")
ALLOCATION_ASSET_MISMATCH = register(
    "compliance_allocation_asset_mismatch", 400, "分配资产须为本权利类型、本年度、本主管部门发行且产地在本区域内的配额",
    "The allocation asset must be this right type's allowance of this vintage, issued by the authority, "
    "originating in the region")
DEADLINE_TOO_EARLY = register("compliance_deadline_too_early", 400, "清缴截止日须在履约年度结束之后",
                              "The surrender deadline must fall after the compliance year ends")
ALREADY_COVERED = register("compliance_already_covered", 409, "该企业已纳入本履约年度",
                           "The enterprise is already covered in this compliance year")
NOT_AN_ENTERPRISE = register("compliance_not_an_enterprise", 400, "只能纳入辖区内的企业",
                             "Only enterprises in the year's region can be covered")
NOT_A_VERIFIER_ORG = register("compliance_not_a_verifier_organization", 400, "核查机构须为 verifier 类型的机构",
                              "The verifier must be an organization of kind verifier")
METHOD_FIELDS = register("compliance_method_fields", 400,
                         "按名单分配须给出分配量（不含基准值）；按基准值分配须给出正的基准值（不含分配量）",
                         "The list method needs an amount (no benchmark); the benchmark method a positive "
                         "benchmark (no amount)")
NOT_COVERED_ENTERPRISE = register(
    "compliance_enterprise_not_covered", 422, "该企业未纳入本履约年度（K-ENTERPRISE-001）",
    "The enterprise is not covered in this compliance year (K-ENTERPRISE-001)")
NOT_THE_VERIFIER = register(
    "compliance_not_the_verifier", 403, "只有为该企业指定的核查机构可以报送核查排放量（K-VERIFIER-001）",
    "Only the verifier assigned to the enterprise submits its verified emissions "
    "(K-VERIFIER-001)")
CORRECTION_REASON = register("compliance_correction_reason_required", 400, "更正核查排放量须说明理由",
                             "A correction of verified emissions needs a reason")
DEADLINE_PASSED = register("compliance_deadline_passed", 422, "已过清缴截止日 {deadline}（K-DEADLINE-001）",
                           "The surrender deadline {deadline} has passed (K-DEADLINE-001)")
WRONG_INSTRUMENT = register("compliance_wrong_instrument", 422,
                            "只能以本履约年度同类型、同子类、同单位的配额清缴（K-ASSET-001）",
                            "Only allowances of the year's right type, subtype and unit can be surrendered "
                            "(K-ASSET-001)")
NOT_VERIFIED = register("compliance_emissions_not_verified", 422, "尚无核查排放量，无法清缴（K-VERIFY-001）",
                        "No verified emissions yet: nothing to surrender for (K-VERIFY-001)")
EXCEEDS_OBLIGATION = register(
    "compliance_exceeds_obligation", 422, "清缴量超过尚待清缴的 {remaining} {unit}（K-OBLIG-001）",
    "The amount exceeds the {remaining} {unit} still to surrender (K-OBLIG-001)")
TRUE_UP_EXISTS = register("compliance_true_up_exists", 409, "该企业本年度的核定（多退少补）已完成",
                          "The enterprise's true-up for this year is already made")
TRUE_UP_NEEDS_OUTPUT = register("compliance_true_up_needs_output", 422,
                                "按基准值核定须有核查的产量（K-ALLOC-001）",
                                "A benchmark true-up needs the verified output (K-ALLOC-001)")
PRE_ALLOCATION_INPUT = register("compliance_pre_allocation_input", 400,
                                "预分配须给出分配量，或按基准值分配的预计产量",
                                "A pre-allocation needs an amount, or for the benchmark method the expected output")
