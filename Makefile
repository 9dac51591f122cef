# examgate: `make demo` runs it, `make test` tests it. Both set up what is missing.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build test test-clock test-web lint demo demo-seat bench bench-idcard bench-server bench-exam

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

# Plugins are cdylibs that cargo does not build for tests: `build` makes them first.
test: build
	$(CARGO) test --workspace
	$(MAKE) --no-print-directory test-clock
	$(MAKE) --no-print-directory test-web

# The tests that touch dates (the exam day, roster purge, card validity, the snapshot
# schedule) again under a moved clock: a year ahead, and just before midnight in Beijing
# so that "today" turns over mid-run. A fixed date beside code that reads the clock fails
# here at once instead of weeks later. libfaketime, in the test processes only.
test-clock: build
	CARGO=$(CARGO) scripts/test-clock.sh

# The seat page (web/seat) and the console (web/console) in Debian's chromium
# through Python Playwright, served by the real agent and server; both login
# modes end to end (server, agents, pcscd + vpcd: web/tests/centre.py).
# Screenshots go to $(SEAT_SCREENSHOTS) if set, else to a temp dir named at the end of the run.
PLAYWRIGHT_VENV ?= target/playwright
test-web: build
	PLAYWRIGHT_VENV=$(PLAYWRIGHT_VENV) scripts/install-playwright.sh
	$(PLAYWRIGHT_VENV)/bin/python -m pytest web/tests -q

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# An exam centre: the server with the simulator's question bank imported, the day's exam
# set ([exam] default; EXAMGATE_DEMO_EXAM) and today's simulated roster, the examiner's console PC
# (reads an ID card through pcscd and vpcd), three seats enrolled and approved; prints the
# console URL, the logins and how to put the card or a finger on (scripts/demo-ctl.sh).
demo: deps
	$(CARGO) build --release -p examgate-server -p examgate-agent -p examgate-sim
	scripts/demo-centre.sh

# One seat agent alone, with the simulated reader and the example plugins.
demo-seat: deps
	$(CARGO) build --release -p examgate-agent -p examgate-example-plugin -p examgate-c-example
	scripts/demo.sh

bench: deps
	$(CARGO) build --release -p examgate-agent -p examgate-example-plugin -p examgate-c-example
	$(CARGO) bench -p examgate-agent --bench latency

bench-idcard: deps
	$(CARGO) bench -p examgate-e2e --bench idcard

# The exam-centre server under a fleet of simulated seats (1,000 and 10,000), SQLite and PostgreSQL.
bench-server: deps
	$(CARGO) build --release -p examgate-server -p examgate-fleet
	$(CARGO) bench -p examgate-server --bench load

# The exam under load (issue 14): paper draw from a 3,000-item bank; the synchronised start of 1,000
# candidates; seats answering (2,000, 5,000, 10,000) and saturated answers; SQLite and PostgreSQL.
bench-exam: deps
	$(CARGO) build --release -p examgate-server -p examgate-fleet -p examgate-sim
	$(CARGO) bench -p examgate-server --bench draw
	$(CARGO) bench -p examgate-server --bench exam_load
