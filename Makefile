# tandem: build, test, bench. `make test` is what CI runs (.ci/run).
SHELL   := /bin/bash
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Debian packages the tests need; scripts/test-deps installs the missing ones.
# gcc and libc6-dev: -race needs cgo.
TEST_DEBS := iproute2 iputils-ping procps keepalived nftables tshark tcpdump \
             qemu-system-x86 busybox-static ipvsadm kmod xz-utils gcc libc6-dev
# Packages that boot qemu: their own step, never beside timing-sensitive tests.
# Only the host side: internal/vmtest/guest is built and run by the harness.
# The Debian kernel is downloaded once into /var/cache/tandem-vmtest
# (TANDEM_VMTEST_CACHE overrides it).
VM_PKGS   := $(wildcard ./internal/vmtest ./internal/demo/demovm)

# Under `make test` a missing prerequisite fails a test instead of skipping it.
export TANDEM_TEST_STRICT := 1

# Each step of `make test` says how long it took; START is when make began.
TIMED := scripts/timed
START := $(shell date +%s)

.PHONY: all build test deps vet test-unit test-race test-vm bench bench-ipvs fuzz docs clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tandem ./cmd/tandem

test: deps vet test-unit test-race test-vm
	@$(TIMED) --total "make test" $(START)

deps:
	$(TIMED) $@ scripts/test-deps $(TEST_DEBS)

vet:
	$(TIMED) $@ $(GO) vet ./...

# Unit and network-namespace tests under the race detector (one package at
# a time: -p 1 keeps timing-sensitive packages off each other's cores).
# internal/e2e runs once, in test-race.
test-unit:
	CGO_ENABLED=1 $(TIMED) $@ $(GO) test -race -count=1 -p 1 \
	  $$($(GO) list ./... | grep -v -e /internal/vmtest -e /internal/demo/demovm -e /internal/e2e)

# The e2e tests, with the tandem processes they drive built with -race
# too (TANDEM_E2E_RACE=1): a race report of any of them fails the test
# that drove it.
test-race:
	CGO_ENABLED=1 TANDEM_E2E_RACE=1 $(TIMED) $@ $(GO) test -race -count=1 -timeout 20m ./internal/e2e/

# Guest binaries are static (CGO_ENABLED=0), without -race.
test-vm:
ifeq ($(VM_PKGS),)
	@echo "test-vm: no VM test packages yet"
else
	TANDEM_DEMO_VM=1 $(TIMED) $@ $(GO) test -count=1 -p 1 -v -timeout 8m $(VM_PKGS)
endif

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench/failover
	$(GO) run ./bench/flood
	$(MAKE) bench-ipvs

# IPVS programming, 10,000 services x 10 destinations from empty: tandem
# against ipvsadm -R in the qemu guest (times and ratio in the log).
bench-ipvs:
	TANDEM_IPVS_BENCH_SERVICES=10000 $(GO) test -count=1 -v -timeout 30m -run 'TestGuestLVS/TestProgrammingSpeed' ./internal/vmtest/

# Fuzz the config loader and the decoders of the kernel's IPVS messages;
# crashers land in PKG/testdata/fuzz and stay as regression cases.
FUZZTIME ?= 3m
fuzz:
	$(GO) test ./config -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./lvs -run '^$$' -fuzz FuzzDecodeService -fuzztime $(FUZZTIME)
	$(GO) test ./lvs -run '^$$' -fuzz FuzzDecodeDest -fuzztime $(FUZZTIME)

# Regenerate the configuration reference in README.md from the schema.
docs:
	$(GO) test ./config -run TestReadmeReference -update

clean:
	rm -rf bin
