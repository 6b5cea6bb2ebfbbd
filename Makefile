# agentkeys — top-level Makefile (plain make, STYLE §15).
#
#   make            dev build (glibc deps, ASan/UBSan) of libraries, functions, enclave, tools, tests
#   make release    static musl bootstrap per function: build/release/<fn>/bootstrap + .zip
#   make test       everything CI checks (installs what is missing first)
#   make demo       the whole flow on the local stack
#   make bench      benchmarks (print figures, never pass/fail)
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (default 60)
#   make lint       banned functions, clang-format, layering, cfn-lint of template.yaml + deploy/signer-host.yaml
#   make build-<LogicalId>   SAM BuildMethod: makefile (copies the static bootstrap to $(ARTIFACTS_DIR))
#
# Layout of outputs: build/deps/<flavour>/ (Debian-source deps), build/dev/, build/release/, build/fuzz/.
# Source lists: each module is one file; the lists below are the directory contents, sorted, so a
# new module is one new file (shared/src/<layer>/<m>.c + tests/unit/<m>_test.c), with no list to
# edit. libak's layers, bottom up: base, core (pure domain + crypto), net (clients), service;
# scripts/check-layers (in `make lint`) keeps every include pointing down.

SHELL := /bin/bash
# `make V=1` shows full commands.
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
.DEFAULT_GOAL := all
TOP := $(abspath .)
JOBS ?= $(shell nproc)

# ---------------------------------------------------------------- sources
SHARED_SRCS  := $(sort $(wildcard shared/src/*/*.c))
RUNTIME_SRCS := $(sort $(wildcard runtime/src/*.c))
EMU_SRCS     := $(sort $(wildcard runtime/emulator/*.c))
ENCLAVE_SRCS := $(sort $(wildcard enclave/src/*.c))
TOOL_SRCS    := $(sort $(wildcard shared/tools/*.c))
UNIT_SRCS    := $(sort $(wildcard tests/unit/*_test.c))
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/*_fuzz.c))
BENCH_SRCS   := $(sort $(wildcard tests/bench/*_bench.c))
TESTLIB_SRCS := $(sort $(wildcard tests/lib/*.c))
CLI_SRCS     := $(sort $(wildcard cli/*.c))
# functions/<name>/*.c -> one bootstrap each; LogicalId = PascalCase(name) + "Function"
FUNCTIONS    := $(sort $(patsubst functions/%/main.c,%,$(wildcard functions/*/main.c)))
logical_id    = $(shell echo '$(1)' | sed -E 's/(^|-)([a-z])/\U\2/g')Function

# ---------------------------------------------------------------- toolchains
GIT_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
WARN      := -DAK_VERSION=\"$(GIT_VERSION)\" -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-missing-field-initializers -D_GNU_SOURCE
INC        = -Ishared/include -Iruntime/include -Ifunctions/lib -Ienclave/include -Ibuild/deps/$(1)/include
DEP_LIBS   = build/deps/$(1)/lib/libcurl.a build/deps/$(1)/lib/libbearssl.a \
             build/deps/$(1)/lib/libsecp256k1.a build/deps/$(1)/lib/libjansson.a

DEV_CC     ?= gcc
SAN        ?= -fsanitize=address,undefined -fno-sanitize-recover=undefined
DEV_CFLAGS := $(WARN) -Itests/lib -DAK_VECTORS_DEFAULT=\"$(abspath ../shared/vectors)\" -O1 -g -fno-omit-frame-pointer $(SAN) -MMD -MP $(call INC,glibc)
DEV_LDFLAGS:= $(SAN) -lpthread

REL_CC     := musl-gcc
REL_CFLAGS := $(WARN) -Os -ffunction-sections -fdata-sections -fno-plt -MMD -MP \
              -DAK_RELEASE=1 $(call INC,musl)
REL_LDFLAGS:= -static -s -Wl,--gc-sections

FUZZ_CC    := clang
FUZZ_CFLAGS:= $(WARN) -Wno-unused-command-line-argument -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
              -DAK_FUZZING=1 $(call INC,glibc)

# ---------------------------------------------------------------- deps (Debian source packages)
DEPS_GLIBC := build/deps/glibc/.stamp
DEPS_MUSL  := build/deps/musl/.stamp
$(DEPS_GLIBC): scripts/build-deps
	./scripts/build-deps glibc
$(DEPS_MUSL): scripts/build-deps
	./scripts/build-deps musl
deps: $(DEPS_GLIBC) $(DEPS_MUSL)
# The archives exist once the stamp does (build-deps writes them before the stamp).
$(call DEP_LIBS,glibc): $(DEPS_GLIBC) ;
$(call DEP_LIBS,musl): $(DEPS_MUSL) ;
bootstrap:
	./scripts/bootstrap

# ---------------------------------------------------------------- object rules per flavour
build/dev/obj/%.o: %.c | $(DEPS_GLIBC)
	@mkdir -p $(@D)
	@echo '  CC   $@'
	$(Q)$(DEV_CC) $(DEV_CFLAGS) -c $< -o $@
build/release/obj/%.o: %.c | $(DEPS_MUSL)
	@mkdir -p $(@D)
	@echo '  CC   $@'
	$(Q)$(REL_CC) $(REL_CFLAGS) -c $< -o $@
build/fuzz/obj/%.o: %.c | $(DEPS_GLIBC)
	@mkdir -p $(@D)
	@echo '  CC   $@'
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

objs = $(patsubst %.c,build/$(1)/obj/%.o,$(2))

define static_lib
build/$(1)/lib$(2).a: $(call objs,$(1),$(3))
	@mkdir -p $$(@D)
	@echo '  AR   $$@'
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach fl,dev release fuzz,$(eval $(call static_lib,$(fl),ak,$(SHARED_SRCS))))
$(foreach fl,dev release fuzz,$(eval $(call static_lib,$(fl),akrt,$(RUNTIME_SRCS))))

LIBS_dev     := build/dev/libakrt.a build/dev/libak.a $(call DEP_LIBS,glibc)
LIBS_release := build/release/libakrt.a build/release/libak.a $(call DEP_LIBS,musl)
LIBS_fuzz    := build/fuzz/libakrt.a build/fuzz/libak.a $(call DEP_LIBS,glibc)

# ---------------------------------------------------------------- functions
define function_rules
FN_SRCS_$(1) := $$(sort $$(wildcard functions/$(1)/*.c))
build/dev/functions/$(1)/bootstrap: $$(call objs,dev,$$(FN_SRCS_$(1))) $$(LIBS_dev)
	@mkdir -p $$(@D)
	$$(DEV_CC) $$^ $$(DEV_LDFLAGS) -o $$@
build/release/$(1)/bootstrap: $$(call objs,release,$$(FN_SRCS_$(1))) $$(LIBS_release)
	@mkdir -p $$(@D)
	$$(REL_CC) $$^ $$(REL_LDFLAGS) -o $$@
build/release/$(1)/$(1).zip: build/release/$(1)/bootstrap
	cd build/release/$(1) && rm -f $(1).zip && zip -q -X $(1).zip bootstrap
build-$(call logical_id,$(1)): build/release/$(1)/bootstrap
	@test -n "$$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)"; exit 2; }
	mkdir -p "$$(ARTIFACTS_DIR)" && cp build/release/$(1)/bootstrap "$$(ARTIFACTS_DIR)/bootstrap"
.PHONY: build-$(call logical_id,$(1))
endef
$(foreach f,$(FUNCTIONS),$(eval $(call function_rules,$(f))))

DEV_FUNCTIONS := $(foreach f,$(FUNCTIONS),build/dev/functions/$(f)/bootstrap)
REL_FUNCTIONS := $(foreach f,$(FUNCTIONS),build/release/$(f)/bootstrap build/release/$(f)/$(f).zip)

# ---------------------------------------------------------------- emulator, enclave, tools
build/dev/bin/ak-emulator: $(call objs,dev,$(EMU_SRCS)) $(LIBS_dev)
	@mkdir -p $(@D)
	$(DEV_CC) $^ $(DEV_LDFLAGS) -o $@
build/release/bin/ak-emulator: $(call objs,release,$(EMU_SRCS)) $(LIBS_release)
	@mkdir -p $(@D)
	$(REL_CC) $^ $(REL_LDFLAGS) -o $@
build/dev/bin/ak-signer: $(call objs,dev,$(ENCLAVE_SRCS)) $(LIBS_dev)
	@mkdir -p $(@D)
	$(DEV_CC) $^ $(DEV_LDFLAGS) -o $@
build/release/bin/ak-signer: $(call objs,release,$(ENCLAVE_SRCS)) $(LIBS_release)
	@mkdir -p $(@D)
	$(REL_CC) $^ $(REL_LDFLAGS) -o $@
build/dev/tools/%: build/dev/obj/shared/tools/%.o $(LIBS_dev)
	@mkdir -p $(@D)
	$(DEV_CC) $^ $(DEV_LDFLAGS) -o $@

# ---------------------------------------------------------------- the agentkeys CLI (issue 13)
# cli/*.c (one file per command group) + libak; the release binary is static musl, stripped.
CLI_DEV := $(if $(CLI_SRCS),build/dev/bin/agentkeys)
CLI_REL := $(if $(CLI_SRCS),build/release/bin/agentkeys build/release/share/man/man1/agentkeys.1)
build/dev/bin/agentkeys: $(call objs,dev,$(CLI_SRCS)) build/dev/libak.a $(call DEP_LIBS,glibc)
	@mkdir -p $(@D)
	$(DEV_CC) $^ $(DEV_LDFLAGS) -o $@
build/release/bin/agentkeys: $(call objs,release,$(CLI_SRCS)) build/release/libak.a $(call DEP_LIBS,musl)
	@mkdir -p $(@D)
	$(REL_CC) $^ $(REL_LDFLAGS) -o $@
# The man page is generated from the command tables (agentkeys help --man).
build/release/share/man/man1/agentkeys.1: build/release/bin/agentkeys
	@mkdir -p $(@D)
	$< help --man > $@.tmp && mv $@.tmp $@
PREFIX ?= /usr/local
DESTDIR ?=
install: build/release/bin/agentkeys build/release/share/man/man1/agentkeys.1
	install -D -m 0755 build/release/bin/agentkeys $(DESTDIR)$(PREFIX)/bin/agentkeys
	install -D -m 0644 build/release/share/man/man1/agentkeys.1 $(DESTDIR)$(PREFIX)/share/man/man1/agentkeys.1
	install -D -m 0644 cli/agentkeys.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/agentkeys

EMULATOR := $(if $(EMU_SRCS),build/dev/bin/ak-emulator build/release/bin/ak-emulator)
SIGNER   := $(if $(ENCLAVE_SRCS),build/dev/bin/ak-signer build/release/bin/ak-signer)
TOOLS    := $(patsubst shared/tools/%.c,build/dev/tools/%,$(TOOL_SRCS))

# ---------------------------------------------------------------- tests, fuzz, bench
TESTLIB_dev := $(call objs,dev,$(TESTLIB_SRCS))
build/dev/tests/%_test: build/dev/obj/tests/unit/%_test.o $(TESTLIB_dev) $(LIBS_dev)
	@mkdir -p $(@D)
	$(DEV_CC) $^ -lcmocka $(DEV_LDFLAGS) -o $@
UNIT_BINS := $(patsubst tests/unit/%_test.c,build/dev/tests/%_test,$(UNIT_SRCS))

build/fuzz/%_fuzz: build/fuzz/obj/tests/fuzz/%_fuzz.o $(LIBS_fuzz)
	@mkdir -p $(@D)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $^ -lpthread -o $@
FUZZ_BINS := $(patsubst tests/fuzz/%_fuzz.c,build/fuzz/%_fuzz,$(FUZZ_SRCS))

build/release/bench/%_bench: build/release/obj/tests/bench/%_bench.o $(LIBS_release)
	@mkdir -p $(@D)
	$(REL_CC) $^ $(REL_LDFLAGS) -o $@
BENCH_BINS := $(patsubst tests/bench/%_bench.c,build/release/bench/%_bench,$(BENCH_SRCS))

# The load and fault driver (issue 16): tests/load/*.c, static musl like the benchmarks.
LOAD_SRCS := $(sort $(wildcard tests/load/*.c))
LOAD_BIN  := $(if $(LOAD_SRCS),build/release/bin/ak-load)
build/release/bin/ak-load: $(call objs,release,$(LOAD_SRCS)) $(LIBS_release)
	@mkdir -p $(@D)
	$(REL_CC) $^ $(REL_LDFLAGS) -o $@

# ---------------------------------------------------------------- contracts
# Compiled once by the build (solcjs takes minutes on a busy 2-core machine), so that
# contracts/deploy.sh, which scripts/stack-up runs under a time cap, only reuses the artifacts in
# contracts/out (forge's cache makes its own build step a no-op). Tests are compiled by
# contracts/test.sh when they run.
CONTRACT_SRCS := $(sort $(wildcard contracts/src/*.sol contracts/script/*.sol)) contracts/foundry.toml \
                 contracts/solc-wrapper
CONTRACTS_OUT := contracts/out/.built
$(CONTRACTS_OUT): $(CONTRACT_SRCS)
	./contracts/build.sh --skip test
	@touch $@

# ---------------------------------------------------------------- top-level targets
all: $(DEPS_GLIBC) build/dev/libak.a build/dev/libakrt.a $(DEV_FUNCTIONS) $(UNIT_BINS) $(TOOLS) \
     $(if $(EMU_SRCS),build/dev/bin/ak-emulator) $(if $(ENCLAVE_SRCS),build/dev/bin/ak-signer) $(CLI_DEV) \
     $(if $(wildcard contracts/src/*.sol),$(CONTRACTS_OUT))
release: $(DEPS_MUSL) $(REL_FUNCTIONS) $(if $(EMU_SRCS),build/release/bin/ak-emulator) \
     $(if $(ENCLAVE_SRCS),build/release/bin/ak-signer) $(CLI_REL) $(LOAD_BIN)
	@for f in $(FUNCTIONS); do b=build/release/$$f/bootstrap; \
	  printf '%-20s %8d bytes  %s\n' "$$f" "$$(stat -c %s $$b)" "$$(file -b $$b | grep -o 'statically linked' || echo 'NOT STATIC')"; done
	@$(if $(CLI_SRCS),b=build/release/bin/agentkeys; printf '%-20s %8d bytes  %s\n' agentkeys "$$(stat -c %s $$b)" \
	  "$$(file -b $$b | grep -o 'statically linked' || echo 'NOT STATIC')"; test "$$(stat -c %s $$b)" -le 2097152 || \
	  { echo "agentkeys is over 2 MB"; exit 1; })
fuzz-build: $(FUZZ_BINS)
bench-build: $(BENCH_BINS)

test: bootstrap
	$(MAKE) -j$(JOBS) all release fuzz-build bench-build
	./tests/run-all.sh

demo: bootstrap
	$(MAKE) -j$(JOBS) all release
	./scripts/demo.sh

bench: bootstrap
	$(MAKE) -j$(JOBS) all release bench-build
	./tests/bench/run.sh

# README's Measured section <- build/bench/measured.md (the last `make bench`).
bench-readme:
	./scripts/readme-measured

# Load and fault figures (issue 16): LOAD_AGENTS, LOAD_PHASE_SECONDS, ... (tests/load/README.md).
load: bootstrap
	$(MAKE) -j$(JOBS) all release
	./tests/load/run.sh

FUZZ_SECONDS ?= 60
fuzz: bootstrap
	$(MAKE) -j$(JOBS) fuzz-build
	./tests/fuzz/run.sh $(FUZZ_SECONDS)

contracts: bootstrap
	./contracts/build.sh

lint:
	./scripts/lint.sh

clean:
	rm -rf build/dev build/release build/fuzz build/local

.PHONY: all release test demo bench bench-readme load fuzz fuzz-build bench-build lint clean deps bootstrap contracts install
.DELETE_ON_ERROR:
.SECONDARY:

-include $(shell find build/dev/obj build/release/obj build/fuzz/obj -name '*.d' 2>/dev/null)
