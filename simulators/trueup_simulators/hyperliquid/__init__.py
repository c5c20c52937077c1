"""A simulated Hyperliquid venue: its ledger, and the server the Hyperliquid SDK talks to."""
