"""Bybit V5: its wire formats, and (later) its live client and simulator."""
