# bench.mk - the benchmark harness (included by the top-level Makefile).
# `make bench-quick` runs the short set (< 1 min), `make bench` the full one;
# both need root and write build/bench/results-{quick,full}.json. Extra driver options go
# in BENCH_ARGS, e.g. `make bench BENCH_ARGS="--runs 9 --only sanity-drop"`.

BENCH_O       := $(O)/bench
BENCH_PYTHON  ?= /usr/bin/python3
BENCH_ARGS    ?=
BENCH_CFLAGS   = $(CFLAGS) -I$(BENCH_O) -Ibench/common
BENCH_LDLIBS  := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz -lpthread
BENCH_BPFFLAGS = $(BPF_CFLAGS) -Ibench/common

BENCH_BASELINES := xdp_drop xdp_pass tc_ok xdp_hash_drop xdp_lru_drop xdp_slot_drop
BENCH_SKELS     := $(patsubst %,$(BENCH_O)/%.skel.h,castle_gen $(BENCH_BASELINES))
BENCH_BINS      := $(BENCH_O)/castle-gen $(BENCH_O)/castle-dut $(BENCH_O)/castle-cost
BENCH_COMMON    := bench/common/frame.c
BENCH_HDRS      := bench/common/bench.h bench/common/frame.h

.PHONY: bench-build
all: $(BENCH_BINS)
bench-build: $(BENCH_BINS) $(O)/bpf/castle_xdp.bpf.o

$(BENCH_O)/bpf/castle_gen.bpf.o: bench/gen/castle_gen.bpf.c $(BENCH_HDRS) $(O)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BENCH_BPFFLAGS) -c $< -o $@

$(BENCH_O)/bpf/%.bpf.o: bench/baselines/%.bpf.c bench/baselines/counter.h $(BENCH_HDRS) \
			$(O)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BENCH_BPFFLAGS) -c $< -o $@

$(BENCH_O)/%.skel.h: $(BENCH_O)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BENCH_O)/castle-gen: bench/gen/castle_gen.c $(BENCH_COMMON) $(BENCH_HDRS) \
		       $(BENCH_O)/castle_gen.skel.h
	$(CC) $(BENCH_CFLAGS) $< $(BENCH_COMMON) -o $@ $(BENCH_LDLIBS)

BENCH_DUT_SRCS := bench/dut/fill.c bench/dut/jit.c
$(BENCH_O)/castle-dut: bench/dut/castle_dut.c $(BENCH_DUT_SRCS) $(BENCH_DUT_SRCS:.c=.h) \
		       $(BENCH_COMMON) $(BENCH_HDRS) $(BENCH_SKELS) include/castle/castle.h \
		       $(O)/libcastle.a
	$(CC) $(BENCH_CFLAGS) $< $(BENCH_DUT_SRCS) $(BENCH_COMMON) $(O)/libcastle.a -o $@ \
		$(LDLIBS) $(BENCH_LDLIBS)

# castle-cost: every path of both programs, with the BPF tests' fixtures
# building the state (policy, verified TLS connection) through user/lib.
BENCH_FIXTURES := tests/bpf/helpers/fixture.c tests/bpf/helpers/fixture_tc.c \
		  tests/bpf/helpers/pkt.c
$(BENCH_O)/castle-cost: bench/cost/castle_cost.c $(BENCH_FIXTURES) $(wildcard tests/bpf/helpers/*.h) \
			$(O)/libcastle.a $(SKELS) $(BENCH_SKELS)
	$(CC) $(BENCH_CFLAGS) -Itests/bpf/helpers $< $(BENCH_FIXTURES) $(O)/libcastle.a -o $@ \
		$(LDLIBS) $(BENCH_LDLIBS)

bench: bench-build
	$(BENCH_PYTHON) bench/run.py --full --build $(BENCH_O) \
		--castle-obj $(O)/bpf/castle_xdp.bpf.o $(BENCH_ARGS)

bench-quick: bench-build
	$(BENCH_PYTHON) bench/run.py --quick --build $(BENCH_O) \
		--castle-obj $(O)/bpf/castle_xdp.bpf.o $(BENCH_ARGS)
