"""What the trading rooms share: pricing arithmetic, the trade-as-fill serializer, queue names, and the
signal for trades awaiting approval."""
