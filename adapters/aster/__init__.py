"""Aster futures: its user-data stream and REST replies in trueup's vocabulary."""
