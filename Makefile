# trueup: `make run` shows it working live, `make sample` on a recorded capture,
# `make test` proves it, `make bench` measures it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
COMPILED := build/mypyc/.built
COMPILED_SOURCES := $(shell find domain adapters -name '*.py')
SAMPLE := samples/bybit-session.jsonl
RUN_DIR := run
PORT ?= 8780
TRUEUP := $(BIN)/trueup --store $(RUN_DIR)/journal.db
SAMPLE_TRUEUP := $(BIN)/trueup --store $(RUN_DIR)/sample.db
# The sample's last instant: verdicts are given as of then, not as of today.
SAMPLE_END := 1762199335000

.PHONY: install compiled run sample test lint typecheck bench clean browser bytecode

install: $(INSTALLED) $(COMPILED)

# trueup, and beside it the simulators the demo, the tests and the benchmarks need: a
# distribution of their own (simulators/), so that `pip install trueup` ships none of them.
$(INSTALLED): pyproject.toml simulators/pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip install --quiet --no-deps -e simulators
	touch $(INSTALLED)

# The domain, the decoding of capture lines and the audit index's rows, compiled to C by mypyc
# (setup.py), each module beside its source, where Python takes it before the source: made again whenever a source
# changes, so that an edit is never hidden behind an older build (tests/conftest.py refuses to
# run behind one).
compiled: $(COMPILED)

$(COMPILED): $(INSTALLED) setup.py $(COMPILED_SOURCES)
	find domain adapters -name '*.so' -delete
	@mkdir -p build
	TRUEUP_USE_MYPYC=1 $(BIN)/python setup.py --quiet build_ext --inplace > build/mypyc.log 2>&1 \
	    || { cat build/mypyc.log; exit 1; }
	@# Dated now: setuptools copies each in place with the date it was first built.
	find domain adapters -name '*.so' -exec touch {} +
	touch $@

# The demo, with the page of `trueup serve` beside it (the demo's own process detects), which
# stays up until Ctrl-C.
run: $(COMPILED)
	@mkdir -p $(RUN_DIR) && rm -f $(RUN_DIR)/journal.db*
	@$(TRUEUP) serve --port $(PORT) --no-projection > $(RUN_DIR)/serve.log 2>&1 & server=$$!; \
	trap 'kill $$server 2>/dev/null' EXIT; \
	echo "== the page, live while the demo plays: http://127.0.0.1:$(PORT)/ (its log: $(RUN_DIR)/serve.log)"; \
	$(TRUEUP) demo --scenario samples/scenarios/demo.jsonl && \
	echo "== how XRPUSDT came to drift, replayed from the journal" && \
	$(TRUEUP) audit --venue bybit --account main --symbol XRPUSDT && \
	echo "== the page stays up at http://127.0.0.1:$(PORT)/ until Ctrl-C" && \
	wait $$server

# The capture path: a recorded Bybit session ingested, reconciled and audited.
sample: $(COMPILED)
	@mkdir -p $(RUN_DIR) && rm -f $(RUN_DIR)/sample.db*
	@echo "== ingest the sample Bybit session; the detectors run as it goes in"
	$(SAMPLE_TRUEUP) ingest $(SAMPLE)
	@echo "== what the detectors emitted"
	$(SAMPLE_TRUEUP) events --emitted
	@echo "== positions, local beside exchange"
	$(SAMPLE_TRUEUP) positions
	@echo "== may the bot open ETHUSDT? (exit 1 means no)"
	@$(SAMPLE_TRUEUP) can-open --venue bybit --account main --symbol ETHUSDT --at $(SAMPLE_END) || echo "(exit status $$?)"
	@echo "== how BTCUSDT came to be what it is"
	$(SAMPLE_TRUEUP) audit --venue bybit --account main --symbol BTCUSDT

# The suite in TEST_WORKERS processes (pytest-xdist), each with its own throwaway PostgreSQL and
# NATS unless TRUEUP_TEST_POSTGRES_URL / TRUEUP_TEST_NATS_URL name shared ones; every test keeps
# to a database, a file and subjects of its own. Two halve the suite's time on two cores (20 ->
# 11 min on the CI machine); a long test (the NATS fault run, 90 s) is taken by whichever
# process is free. TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2

test: lint $(COMPILED) browser bytecode
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal

# Where writing bytecode is off (PYTHONDONTWRITEBYTECODE, as on the CI machine), each of the
# suite's trueup processes would compile every module it imports again: compiled once here
# (measured on the tests that start the most processes: 11 % of their CPU time).
bytecode: $(INSTALLED)
	$(BIN)/python -m compileall -q adapters application client domain projections runners \
	    simulators/trueup_simulators

# The page tests drive a real headless browser: Debian's chromium, installed here when it is
# missing and we are root; otherwise say how.
browser:
	@[ -n "$$TRUEUP_CHROMIUM" ] || command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the page tests"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null; \
	  else \
	    echo "the page tests need chromium: run 'sudo apt-get install -y chromium' (or set TRUEUP_CHROMIUM to a Chromium binary)" >&2; \
	    exit 1; \
	  fi; }

lint: $(INSTALLED) typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy needs the installed names (trueup.domain ..., trueup_simulators) on disk: a tree of
# links gives it them.
typecheck: $(INSTALLED)
	@rm -rf build/typecheck && mkdir -p build/typecheck/trueup
	@for d in application domain projections adapters runners client; do ln -s ../../../$$d build/typecheck/trueup/$$d; done
	@ln -s ../../simulators/trueup_simulators build/typecheck/trueup_simulators
	MYPYPATH=build/typecheck $(BIN)/mypy build/typecheck/trueup build/typecheck/trueup_simulators tests bench

bench: $(COMPILED)
	$(BIN)/python -m bench

clean:
	find domain adapters -name '*.so' -delete
	rm -rf $(VENV) build $(RUN_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The fuzz target, long: LINES mutated capture lines through the whole input path; prints the
# pace, the counts and every crash class with a minimal reproducer; exit 1 on any crash.
# SEED=S repeats a run; STORE=postgresql makes its store trips' journals PostgreSQL databases.
# A brief run of it is part of `make test` (tests/test_fuzz.py).
LINES ?= 200000
.PHONY: fuzz
fuzz: $(COMPILED)
	$(BIN)/python -m tests.fuzz --lines $(LINES) $(if $(SEED),--seed $(SEED)) \
	    $(if $(STORE),--store $(STORE))

# The soak, long: ROUNDS rounds of workers, ingests of each kind and an operator on one journal
# (STORE=sqlite or postgresql), some killed with -9 or paused at random moments, each judged
# against one process over the same inputs; exit 1 on any failed round. SEED=S repeats the
# plans. A brief run of it is part of `make test` (tests/test_soak.py).
ROUNDS ?= 20
STORE ?= sqlite
.PHONY: soak
soak: $(COMPILED)
	$(BIN)/python -m tests.soak --rounds $(ROUNDS) --store $(STORE) $(if $(SEED),--seed $(SEED))
