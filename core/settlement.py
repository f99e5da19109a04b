"""Settlement: whether a closed market is settled, and Betfair's commission shared among the winners."""

from __future__ import annotations


def settled(market) -> bool:
    """Whether the market closed and every matched bet in it has been settled."""
    if not market.closed:
        return False
    return all(o.simulated or o.cleared_order is not None for o in market.blotter if o.size_matched > 0)


def market_commission(gross: dict[str, float], rate: float) -> dict[str, float]:
    """Betfair's commission on a market's net winnings, allocated to strategies in proportion to their winnings."""
    net = sum(gross.values())
    if net <= 0:
        return dict.fromkeys(gross, 0.0)
    total = round(net * rate, 2)
    winnings = {name: max(value, 0.0) for name, value in gross.items()}
    won = sum(winnings.values())
    shares = {name: round(total * value / won, 2) for name, value in winnings.items()}
    if shares:  # rounding: what is left over goes to the biggest winner, so the shares add up to the charge
        biggest = max(winnings, key=lambda name: (winnings[name], name))
        shares[biggest] = round(shares[biggest] + total - sum(shares.values()), 2)
    return shares
