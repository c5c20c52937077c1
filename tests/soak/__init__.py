"""The soak: rounds of trueup processes on one journal (workers, ingests of each kind, an
operator's fix-stale), some killed with -9 or paused at random moments, each round judged
against one process over the same inputs: every process that was left alone ends cleanly,
every capture's inputs are stored once, and every account's emitted events are exactly what
one process emits. ``make soak`` runs it long; tests/test_soak.py briefly.
"""
