# warden - the two commands: `make test` and `make demo`.
#
# Both work on a fresh Debian 12 machine: they install what is missing with
# apt (as root, or through sudo), build with CMake, start what they need on
# loopback ports, and run.

SHELL := /bin/bash
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60

# Build and test dependencies, all Debian 12 packages.
DEPS_BUILD := build-essential cmake pkg-config clang clang-format libclang-rt-14-dev \
	libmicrohttpd-dev libpq-dev libhiredis-dev libcurl4-openssl-dev \
	libjansson-dev libssl-dev libcmocka-dev ca-certificates
DEPS_RUN := postgresql redis-server openssl python3 python3-botocore python3-psycopg2 \
	awscli procps iproute2
DEPS_BENCH := nginx wrk haproxy
# The image test (podman as root, runc, a debootstrapped base): with recommends.
DEPS_IMAGE := podman runc debootstrap

# Node.js tools of the ECS checks, from the npm registry into $(BUILD)/npm:
# asl-validator (the failover state machine is valid Amazon States Language)
# and the AWS SDK for JavaScript v2, only for its API models (newer than
# Debian 12's botocore, which lacks rds:SwitchoverGlobalCluster). Node.js and
# npm themselves come from Debian (nodejs, npm) unless already installed.
NPM_TOOLS := asl-validator@4.0.0 aws-sdk@2.1693.0
NPM_PREFIX = $(abspath $(BUILD)/npm)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build build-asan test unit format-check asl-validator demo bench fuzz clean

all: build

# Install every missing package (one apt transaction, update only if needed).
deps:
	@set -e; \
	missing=$$(for p in $(DEPS_BUILD) $(DEPS_RUN) $(DEPS_BENCH); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null && \
		echo "deps: done"; \
	fi; \
	missing=$$(for p in $(DEPS_IMAGE); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null && \
		echo "deps: done"; \
	fi; \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		echo "deps: installing: nodejs npm"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null && \
		echo "deps: done"; \
	fi; \
	echo "deps: ready"

# The npm tools, pinned; skipped when $(NPM_PREFIX) already holds these versions.
asl-validator: deps
	@set -e; want="$(NPM_TOOLS)"; have=""; \
	for t in $$want; do \
		name=$${t%@*}; v=$$(node -p "require('$(NPM_PREFIX)/node_modules/$$name/package.json').version" 2>/dev/null || true); \
		have="$$have $$name@$$v"; \
	done; \
	if [ "$$(echo $$have)" != "$$want" ]; then \
		echo "npm: installing $$want into $(NPM_PREFIX)"; \
		mkdir -p $(NPM_PREFIX); \
		npm install --prefix $(NPM_PREFIX) --no-audit --no-fund --loglevel=error $$want >/dev/null; \
	fi; \
	echo "npm: $$($(NPM_PREFIX)/node_modules/.bin/asl-validator --version | sed 's/^/asl-validator /'), aws-sdk models ready"

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARDEN_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DWARDEN_WERROR=ON -DWARDEN_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)

format-check: deps
	@files=$$(git ls-files '*.c' '*.h' 2>/dev/null || find lib net probes aws fencing proxy gate agent tests -name '*.[ch]'); \
	clang-format --dry-run -Werror $$files && echo "format: clean"

# Every suite, twice: the normal build, then ASan+UBSan. Non-zero on any failure.
test: build build-asan format-check asl-validator
	WARDEN_REQUIRE_ASL_VALIDATOR=1 ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
		ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L 'unit|fuzz' -j $(JOBS)

demo: build
	@/usr/bin/python3 tests/demo.py $(BUILD)/warden

bench: build
	WARDEN_BIN=$(BUILD)/warden tests/bench/health.sh

# Real fuzzing with libFuzzer (clang), FUZZ_SECONDS per target.
fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DWARDEN_FUZZ=ON -DWARDEN_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	@set -e; for t in $(BUILD_FUZZ)/tests/fuzz_*; do \
		name=$$(basename $$t); parser=$${name#fuzz_}; \
		echo "fuzz: $$parser for $(FUZZ_SECONDS)s"; \
		mkdir -p tests/fuzz/crashes $(BUILD_FUZZ)/corpus-$$parser; \
		$$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/crashes/$$parser- \
			$(BUILD_FUZZ)/corpus-$$parser tests/fuzz/corpus/$$parser 2>&1 | tail -2; \
	done

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) .demo
