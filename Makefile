# tandem: build, test, bench. `make test` is what CI runs (.ci/run).
SHELL   := /bin/bash
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Debian packages the tests need; scripts/test-deps installs the missing ones.
# gcc and libc6-dev: -race needs cgo.
TEST_DEBS := iproute2 iputils-ping procps keepalived nftables tshark tcpdump frr \
             qemu-system-x86 busybox-static ipvsadm kmod xz-utils gcc libc6-dev \
             tmux chromium conntrackd \
             lintian man-db groff-base systemd
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

.PHONY: all build package test deps vet test-unit test-package test-race test-vm bench bench-vrrp bench-ipvs bench-health bench-chaos fuzz docs clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tandem ./cmd/tandem

# dist/tandem_VERSION_amd64.deb (nfpm, no dpkg-buildpackage): the version
# is git describe's on a tag, else 0.0~gitYYYYMMDD.SHORTSHA.
package:
	$(GO) run ./scripts/package -out dist -go $(GO)

test: deps vet test-unit test-package test-race test-vm
	@$(TIMED) --total "make test" $(START)

# promtool: from Debian's prometheus package, unpacked, not installed.
deps:
	$(TIMED) $@ bash -c 'scripts/test-deps $(TEST_DEBS) && scripts/promtool --path'

vet:
	$(TIMED) $@ $(GO) vet ./...

# Unit and network-namespace tests under the race detector (one package at
# a time: -p 1 keeps timing-sensitive packages off each other's cores).
# internal/e2e runs once, in test-race.
test-unit:
	CGO_ENABLED=1 $(TIMED) $@ $(GO) test -race -count=1 -p 1 \
	  $$($(GO) list ./... | grep -v -e /internal/vmtest -e /internal/demo/demovm -e /internal/e2e -e /internal/pkgbuild -e /scripts/package)

# The Debian package: built twice (to test an upgrade), lintian, then
# installed, upgraded, removed and purged in a throwaway root (an overlay
# of / in a private mount namespace). Without -race: it drives dpkg.
test-package:
	$(TIMED) $@ $(GO) test -count=1 ./internal/pkgbuild/

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
	$(GO) run ./bench/scale
	$(MAKE) bench-vrrp
	$(MAKE) bench-ipvs
	$(MAKE) bench-health
	$(MAKE) bench-chaos

# VRRP at scale: a master/backup pair with 200 instances at 100 ms v3 on
# one interface, then 1,000 on four, tandem and keepalived in alternating
# rounds (CPU per role, permille of a core, and the ratio).
bench-vrrp:
	$(GO) run ./bench/scale -vrrp -rounds 5
	$(GO) run ./bench/scale -vrrp -rounds 3 -instances 1000 -links 4

# Thirty minutes of seeded faults on three tandem directors, then ten on
# two tandem and one keepalived (CHAOS_SEED replays a schedule).
CHAOS_SEED ?= 0
bench-chaos:
	$(GO) run ./bench/chaos -seed $(CHAOS_SEED) -duration 30m
	$(GO) run ./bench/chaos -seed $(CHAOS_SEED) -duration 10m -keepalived 1 -overlap

# IPVS programming, 10,000 services x 10 destinations from empty: tandem
# against ipvsadm -R in the qemu guest; reading 1,000 x 10 and 10,000 x
# 10 (a reconcile that changes nothing) against ipvsadm -S -n (times and
# ratios in the log).
bench-ipvs:
	TANDEM_IPVS_BENCH_SERVICES=10000 TANDEM_IPVS_READ_SERVICES=1000,10000 $(GO) test -count=1 -v -timeout 40m -run 'TestGuestLVS/(TestProgrammingSpeed|TestReadSpeed)' ./internal/vmtest/

# Health checks in the qemu guest, tandem beside keepalived's checker,
# alternating: CPU per 1,000 checks at 500 and 1,000 TCP checks a second
# and 500 HTTP (figures in the log); HEALTH_BENCH="tcp:500 pairs:5" picks.
bench-health:
	TANDEM_HEALTH_BENCH="$(or $(HEALTH_BENCH),1)" $(GO) test -count=1 -v -timeout 30m -run '^TestGuest$$/TestHealthCPUBesideKeepalived' ./internal/vmtest/

# Fuzz the config loader, the decoders of the kernel's IPVS messages, the
# keepalived.conf reader and the ipvsadm -S reader;
# crashers land in PKG/testdata/fuzz and stay as regression cases.
FUZZTIME ?= 3m
fuzz:
	$(GO) test ./config -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz FuzzStreamDecode -fuzztime $(FUZZTIME)
	$(GO) test ./vrrp -run '^$$' -fuzz FuzzParseTrailer -fuzztime $(FUZZTIME)
	$(GO) test ./lvs -run '^$$' -fuzz FuzzDecodeService -fuzztime $(FUZZTIME)
	$(GO) test ./lvs -run '^$$' -fuzz FuzzDecodeDest -fuzztime $(FUZZTIME)
	$(GO) test ./internal/keepalived -run '^$$' -fuzz FuzzRead -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ipvsadm -run '^$$' -fuzz FuzzParseSave -fuzztime $(FUZZTIME)
	$(GO) test ./internal/keepalived -run '^$$' -fuzz FuzzImportIPVSAdm -fuzztime $(FUZZTIME)

# Regenerate the configuration reference in README.md from the schema,
# and docs/migrating.md's keyword table from the importer's.
docs:
	$(GO) test ./config -run TestReadmeReference -update
	$(GO) test ./internal/keepalived -run TestMigratingDoc -update

clean:
	rm -rf bin dist
