"""Settlement: the trade lifecycle after the match (delivery versus payment), the outbox and queue
routing, settlement reports and the earmarked payout."""
