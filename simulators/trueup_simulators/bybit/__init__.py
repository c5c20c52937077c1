"""A simulated Bybit V5 exchange: its book, the server pybit talks to, and scenario files."""
