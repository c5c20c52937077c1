"""Bybit V5: its wire formats, message builders and live client (its simulator is in
trueup_simulators)."""
