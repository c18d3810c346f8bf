"""The compliance cycle of allowance-type rights (carbon allowances, energy-use rights, emission rights
where a county chooses it): compliance years, covered enterprises, free allocation (pre-allocation and
true-up, issued through the ledger's maker–checker), verified emissions submitted by verifiers (versioned),
surrender (清缴) as ledger retirements, and the shortfall after the deadline (report and alerts).

It sits above `oversight` (it raises oversight alerts and reads the jurisdiction scope) and below
`console`. See `compliance.models` for the design overview.
"""
