"""Package bids: one all-or-nothing purchase over several markets and fixed-price listings (see
`trading.packages.services`)."""
