# xlvs build. `make build` installs what is missing, compiles the BPF objects and the TypeScript;
# it is idempotent and prints nothing when there is nothing to do.
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
CLANG ?= clang
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo $$(uname -m)-linux-gnu)
BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -Wno-unused-function \
	-I bpf/include -I /usr/include/$(MULTIARCH)

BPF_SRC := $(wildcard bpf/*.bpf.c)
BPF_OBJ := $(patsubst bpf/%.bpf.c,build/bpf/%.bpf.o,$(BPF_SRC))
TEST_BPF_SRC := $(wildcard test/bpf/*.bpf.c)
TEST_BPF_OBJ := $(patsubst test/bpf/%.bpf.c,build/test-bpf/%.bpf.o,$(TEST_BPF_SRC))
BENCH_BPF_SRC := $(wildcard bench/bpf/*.bpf.c)
BENCH_BPF_OBJ := $(patsubst bench/bpf/%.bpf.c,build/bench-bpf/%.bpf.o,$(BENCH_BPF_SRC))
BPF_HDR := $(wildcard bpf/include/*.h)
TEST_BPF_HDR := $(wildcard test/bpf/include/*.h)
TS_SRC := $(shell find src test bench -name '*.ts' 2>/dev/null) tsconfig.json

.PHONY: all build deps test-deps test demo bench deb clean
all: build

build: deps node_modules/.package-lock.json $(BPF_OBJ) $(TEST_BPF_OBJ) $(BENCH_BPF_OBJ) dist/.stamp
	@:

deps:
	@scripts/ensure-deps build

test-deps:
	@scripts/ensure-deps test

node_modules/.package-lock.json: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

build/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDR)
	@mkdir -p $(dir $@)
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@

build/test-bpf/%.bpf.o: test/bpf/%.bpf.c $(BPF_HDR) $(TEST_BPF_HDR)
	@mkdir -p $(dir $@)
	@$(CLANG) $(BPF_CFLAGS) -I test/bpf/include -c $< -o $@

build/bench-bpf/%.bpf.o: bench/bpf/%.bpf.c $(BPF_HDR)
	@mkdir -p $(dir $@)
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@

dist/.stamp: $(TS_SRC) node_modules/.package-lock.json
	@node_modules/.bin/tsc -p .
	@touch $@

test: test-deps build
	@scripts/run-tests

demo: test-deps build
	@node bin/xlvs.js lab demo

bench: build
	@scripts/ensure-deps bench
	@node dist/bench/run.js

# The Debian package build/deb/xlvs_<version>_<arch>.deb (scripts/build-deb, packaging/deb/).
deb: build
	@scripts/build-deb

clean:
	rm -rf build dist
