"""A fuzz target over the whole input path: capture line to stored event, fold, rules and reads.

``python -m tests.fuzz --lines N --seed S`` runs it long; tests/test_fuzz.py runs it briefly.
"""
