"""trueup's test doubles, a distribution of their own (trueup-simulators), never shipped with
trueup: the Bybit and Hyperliquid exchange simulators (aiohttp servers on 127.0.0.1), the
scenarios that script them, the demo ``trueup demo`` plays on them, and a throwaway
PostgreSQL for tests and benchmarks. ``make`` installs it (``pip install -e simulators``).
"""
