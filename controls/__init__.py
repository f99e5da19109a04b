"""The safety layer: kill switch, risk limits, rate limit, suspension cascades, hedging."""
