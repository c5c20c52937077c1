"""A simulated Aster futures exchange: its account, the server clients talk to, scenarios."""
