"""Hyperliquid: its wire formats (info replies, WebSocket frames) and an exchange simulator."""
