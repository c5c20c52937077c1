"""Hyperliquid: its wire formats (info replies, WebSocket frames) and live client (its
simulator is in trueup_simulators)."""
