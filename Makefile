# Use the go on PATH, else the toolchain at /usr/local/go.
ifeq ($(origin GO),undefined)
GO := $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)
endif
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt
# Extra flags for `go test`, e.g. make test GOTESTFLAGS='-race -run TestFoo'.
GOTESTFLAGS ?=
FUZZTIME ?= 30s

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

.PHONY: test run bench load pg-test lint fuzz release image image-test

test:
	$(GO) test -count=1 -timeout 30m $(GOTESTFLAGS) ./...

run:
	$(GO) run ./cmd/authz serve

# Release binaries for linux/amd64 and linux/arm64 with SHA256SUMS in dist/
# (scripts/build; VERSION=v1.2.3 make release).
release:
	bash scripts/build

# The container image (podman), and the walkthrough against it.
image:
	bash scripts/image

image-test:
	bash scripts/image-test

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The load test against the running server (wrk from Debian; see bench/load.sh).
load:
	bash bench/load.sh

# `make test` against a throwaway PostgreSQL that is removed afterwards, even
# when the tests fail or are interrupted.
pg-test:
	@set -e; \
	dir=$$(mktemp -d /tmp/authz-pg.XXXXXX); \
	trap '"$(ROOT)/.ci/pg.sh" stop "$$dir" || true' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	if [ "$$(id -u)" = 0 ]; then chown postgres: "$$dir"; fi; \
	url=$$("$(ROOT)/.ci/pg.sh" start "$$dir"); \
	echo "AUTHZ_TEST_POSTGRES_URL=$$url"; \
	AUTHZ_TEST_POSTGRES_URL="$$url" $(MAKE) --no-print-directory test

lint:
	$(GO) vet ./...
	$(GO) vet -tags authzbench ./...
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -not -path './vendor/*'); \
	if [ -z "$$files" ]; then exit 0; fi; \
	bad=$$($(GOFMT) -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt needed on:"; echo "$$bad"; exit 1; fi

# Each fuzz target for FUZZTIME (go test fuzzes one target at a time).
fuzz:
	$(GO) test ./jwtkeys/verify -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./oauth -run '^$$' -fuzz '^FuzzParseTokenRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./oauth -run '^$$' -fuzz '^FuzzSecretFormat$$' -fuzztime $(FUZZTIME)
	$(GO) test ./oauth -run '^$$' -fuzz '^FuzzSubjectBinding$$' -fuzztime $(FUZZTIME)
	$(GO) test ./web -run '^$$' -fuzz '^FuzzAdminJSON$$' -fuzztime $(FUZZTIME)
