"""Triggers: operator-configured exits (profit, price, stop-loss, trailing) folded as events."""
