# castle - top-level build. `make` builds everything with -Wall -Wextra -Werror;
# `make deps` installs what a fresh Debian 12 needs; `make test` runs every test
# and ends with "N passed, N failed".

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
O        := build
PREFIX   ?= /usr/local
DESTDIR  ?=

PKGS     := libbpf libxdp yaml-0.1 libmicrohttpd libsystemd
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(O) -Iuser/lib \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wextra -Werror \
              -Wno-unused-function -I$(O) -Iinclude -Ibpf

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(O)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h) $(wildcard include/castle/*.h)

LIB_SRCS  := $(wildcard user/lib/*.c)
LIB_HDRS  := $(wildcard user/lib/*.h) $(wildcard include/castle/*.h)
LIB_OBJS  := $(patsubst user/lib/%.c,$(O)/lib/%.o,$(LIB_SRCS))
LIB_SOBJS := $(patsubst user/lib/%.c,$(O)/asan/lib/%.o,$(LIB_SRCS))

BINS      := $(patsubst user/%.c,$(O)/%,$(wildcard user/*.c))

BPFTESTS  := $(patsubst tests/bpf/%.c,$(O)/tests/bpf/%,$(wildcard tests/bpf/test_*.c))
UNITTESTS := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(wildcard tests/unit/test_*.c))
TESTHELP  := $(wildcard tests/bpf/helpers/*.c)

.SECONDARY:
.DELETE_ON_ERROR:
.PHONY: all check-deps deps test test-bpf test-unit test-e2e clean install demo bench bench-quick lint fuzz fuzzers
all: check-deps $(SKELS) $(BINS) $(BPFTESTS) $(UNITTESTS) $(EXTRA_BINS)

# A missing library would otherwise surface as unrelated compile errors.
check-deps:
	@for p in $(PKGS) cmocka; do pkg-config --exists $$p || { \
		echo "castle: the $$p development package is missing: run 'make deps' (scripts/deps.sh)" >&2; \
		exit 1; }; done
	@for t in $(CLANG) $(BPFTOOL); do command -v $$t >/dev/null || { \
		echo "castle: $$t not found: run 'make deps' (scripts/deps.sh)" >&2; exit 1; }; done

deps:
	scripts/deps.sh

$(O)/vmlinux.h:
	@mkdir -p $(O)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(O)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(O)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/%.skel.h: $(O)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(O)/lib/%.o: user/lib/%.c $(LIB_HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/asan/lib/%.o: user/lib/%.c $(LIB_HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(O)/libcastle.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(O)/libcastle-asan.a: $(LIB_SOBJS)
	@rm -f $@
	ar rcs $@ $^

$(O)/%: user/%.c $(O)/libcastle.a $(SKELS) $(LIB_HDRS)
	$(CC) $(CFLAGS) $< $(O)/libcastle.a -o $@ $(LDLIBS)

# BPF test-run tests and unit tests run under ASan/UBSan with cmocka.
$(O)/tests/bpf/%: tests/bpf/%.c $(TESTHELP) $(wildcard tests/bpf/*.h) $(O)/libcastle-asan.a $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Itests/bpf -Itests/bpf/helpers $< $(TESTHELP) $(O)/libcastle-asan.a -o $@ $(LDLIBS) -lcmocka

$(O)/tests/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(O)/libcastle-asan.a $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $< $(O)/libcastle-asan.a -o $@ $(LDLIBS) -lcmocka

# libFuzzer targets: tests/fuzz/fuzz_*.c against the library built with clang.
FUZZ_CC    := clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -Wall -Wextra -Werror \
              -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(O) -Iuser/lib
FUZZERS    := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LOBJS := $(patsubst user/lib/%.c,$(O)/fuzz/lib/%.o,$(LIB_SRCS))
FUZZ_SECONDS ?= 10

$(O)/fuzz/lib/%.o: user/lib/%.c $(LIB_HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@

$(O)/fuzz/%: tests/fuzz/%.c $(FUZZ_LOBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_LOBJS) -o $@ $(LDLIBS)

fuzzers: $(FUZZERS)

fuzz: $(FUZZERS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests.sh fuzz

test: all $(FUZZERS)
	scripts/run-tests.sh

test-bpf test-unit test-e2e: all
	scripts/run-tests.sh $(patsubst test-%,%,$@)

# Static analysis: clang-tidy (.clang-tidy), cppcheck and scan-build over user
# space; any finding fails the target.
LINT_SRCS := $(LIB_SRCS) $(wildcard user/*.c)
# The analyzer assumes that a function declared in a system header never frees
# memory, so every skeleton's error path (bpf_object__destroy_skeleton) looks
# like a leak; reaching libbpf's headers through a non-system path for lint
# removes that false positive. cppcheck needs the libbpf/libxdp option macros.
LINT_INC  := $(O)/lint-inc
LINT_DEFS := '-DLIBBPF_OPTS(T,N,...)=struct T N = { __VA_ARGS__ }' \
             '-DDECLARE_LIBXDP_OPTS(T,N,...)=struct T N = { __VA_ARGS__ }'
lint: $(SKELS)
	mkdir -p $(LINT_INC) && ln -sfn $$(pkg-config --variable=includedir libbpf)/bpf $(LINT_INC)/bpf
	clang-tidy --quiet $(LINT_SRCS) -- -I$(LINT_INC) $(filter-out -Werror,$(CFLAGS))
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppressions-list=.cppcheck-suppressions --inline-suppr $(LINT_DEFS) \
		-Iinclude -I$(O) -Iuser/lib $(LINT_SRCS)
	CFLAGS="-O2 -g -I$(abspath $(LINT_INC))" \
		scan-build --status-bugs -o $(O)/scan $(MAKE) -B $(O)/libcastle.a $(BINS)

demo: all
	scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/lib/systemd/system
	for b in $(BINS); do install -m 0755 $$b $(DESTDIR)$(PREFIX)/sbin/; done
	if [ -f dist/castled.service ]; then \
		sed 's|@SBINDIR@|$(PREFIX)/sbin|g' dist/castled.service > $(DESTDIR)/lib/systemd/system/castled.service; fi
	if [ -d docs/man ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man8 && \
		for m in docs/man/*.8; do [ -f $$m ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done; fi
	if [ -f scripts/castlectl.bash-completion ]; then install -d $(DESTDIR)/usr/share/bash-completion/completions && \
		install -m 0644 scripts/castlectl.bash-completion $(DESTDIR)/usr/share/bash-completion/completions/castlectl; fi

clean:
	rm -rf $(O)

-include bench/bench.mk
