# Switchyard: `make serve` builds and serves zones/; `make test` runs every test.
# Both install what is missing first (Debian packages, a Python venv for the tests).

SWIFT      ?= swift
PORT       ?= 5353
# How long `make soak` keeps injecting faults (it finishes the pass it is in).
SOAK_SECONDS ?= 600
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV       := .venv
PYTHON     := $(VENV)/bin/python
# Build: libldns, librdkafka (the Kafka gate). Serve: dig, for the README's quick start. Tests: real DNS clients,
# python3-venv for the test tools, e2fsprogs for the soak's ext4 state directory, and PostgreSQL's server binaries
# (the fleet tests start a private cluster of their own with initdb, as the unprivileged `postgres` user; Debian's own
# cluster is left alone).
APT_BUILD  := libldns-dev libssl-dev librdkafka-dev pkg-config
APT_SERVE  := dnsutils
APT_TEST   := dnsutils knot-dnsutils ldnsutils unbound nsd knot python3-venv curl iproute2 e2fsprogs postgresql util-linux openssl
APT_BENCH  := nsd knot dnsperf time util-linux iproute2

.PHONY: all deps serve-deps test-deps build release serve check test unit-test integration-test test-sanitize soak bench clean

all: build

# Installs only what is missing, with one `apt-get update` before the first install.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call apt_install,$(APT_BUILD))

serve-deps:
	$(call apt_install,$(APT_BUILD) $(APT_SERVE))

test-deps:
	$(call apt_install,$(APT_BUILD) $(APT_TEST))
	@[ -x $(PYTHON) ] || python3 -m venv $(VENV)
	@$(PYTHON) -m pip install -q --disable-pip-version-check -r tests/requirements.txt

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

serve: serve-deps release
	.build/release/switchyard serve --zones zones --listen 127.0.0.1:$(PORT) --listen [::1]:$(PORT)

check: build
	.build/debug/switchyard check --zones zones

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration-test: test-deps build
	SWITCHYARD_BIN=$(CURDIR)/.build/debug/switchyard $(PYTHON) -m pytest -q tests/integration

test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	SWITCHYARD_BIN=$(CURDIR)/.build/debug/switchyard $(PYTHON) -m pytest -q tests/integration

# The Swift tests under AddressSanitizer, then ThreadSanitizer, each in its own build folder
# (an instrumented build of everything, several minutes each on 2 cores). Under TSan the Kafka
# client tests are left out: that process dies with SIGSEGV inside them (librdkafka's own,
# uninstrumented threads; not investigated further yet); every other suite runs race-free.
test-sanitize: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan-suppressions.txt $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --skip SwitchyardKafkaTests

# Faults under load for SOAK_SECONDS (default 600): continuous UDP and TCP queries while cutovers
# and rollbacks loop, SIGHUP reloads (good and bad), an admin API flood, the state directory full
# (a small ext4 on a loop device, or a tmpfs) and read-only, the discovery directory read-only,
# kill -9 and restart. Mounts file systems, so it runs as root (sudo otherwise). Prints the
# figures; also in .build/soak.json.
soak: test-deps build
	$(SUDO) env SWITCHYARD_BIN=$(CURDIR)/.build/debug/switchyard $(PYTHON) tests/integration/soak.py \
	  --seconds $(SOAK_SECONDS) --json $(CURDIR)/.build/soak.json

# Side-by-side benchmark against NSD and Knot (see bench/README.md).
bench: release
	$(call apt_install,$(APT_BENCH))
	bench/run.sh

clean:
	rm -rf .build $(VENV)
