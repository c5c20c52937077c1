"""Reconciliation rules: pure functions of folded state and an input's ``at``."""
