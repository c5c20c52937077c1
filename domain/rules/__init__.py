"""Reconciliation rules: detectors that judge folded state as of an input's ``at``, each
owning what it remembers (rules/detector.py), and the queries that ask them."""
