"""The accounts tests' role matrix: one membership name per (organization kind, role) pair."""

ROLE_MATRIX = (
    # name: (organization key, role)
    ("enterprise_admin", "enterprise", "admin"),
    ("enterprise_trader", "enterprise", "trader"),
    ("enterprise_approver", "enterprise", "approver"),
    ("enterprise_viewer", "enterprise", "viewer"),
    ("county_admin", "county", "admin"),
    ("county_trader", "county", "trader"),
    ("regulator_admin", "regulator", "admin"),
    ("regulator_approver", "regulator", "approver"),
    ("operator_admin", "operator", "admin"),
    ("operator_approver", "operator", "approver"),
    ("operator_viewer", "operator", "viewer"),
)
ROLE_NAMES = tuple(name for name, _, _ in ROLE_MATRIX)
