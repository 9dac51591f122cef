# examgate: `make demo` runs it, `make test` tests it. Both set up what is missing.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build test lint demo bench bench-idcard

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

# Plugins are cdylibs that cargo does not build for tests: `build` makes them first.
test: build
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

demo: deps
	$(CARGO) build --release -p examgate-agent -p examgate-example-plugin -p examgate-c-example
	scripts/demo.sh

bench: deps
	$(CARGO) build --release -p examgate-agent -p examgate-example-plugin -p examgate-c-example
	$(CARGO) bench -p examgate-agent --bench latency

bench-idcard: deps
	$(CARGO) bench -p examgate-e2e --bench idcard
