# auratag build.  `make` builds ./auratag; `make test`, `make asan`, `make bench`.
# The CUDA backend joins when its issue lands (CUDA=0/1 will force it).

BUILD   ?= build
CC      ?= gcc
SAN     ?= 0
OPT     ?= -O2 -march=native -g
OPENMP  := -fopenmp
ifeq ($(SAN),1)
  OPT     := -O1 -g -fno-omit-frame-pointer
endif
# Fuzz targets: clang + libFuzzer + ASan/UBSan. The library is built without
# OpenMP here (clang's runtime is not installed; the parsers do not need it).
ifeq ($(SAN),fuzz)
  CC      := clang
  OPT     := -O1 -g -fno-omit-frame-pointer
  OPENMP  :=
endif

# OpenBLAS's OpenMP flavour: one thread pool shared with our OpenMP loops and
# oneDNN (the pthread flavour would spin against them; see cpu-performance.md).
BLAS_DIR  := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC  := /usr/include/x86_64-linux-gnu/openblas-openmp
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS   := $(shell pkg-config --libs hdf5 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)

CFLAGS  := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPENMP) $(OPT) \
           -Ihost -I$(BLAS_INC) $(HDF5_CFLAGS)
LDLIBS  := $(HDF5_LIBS) -linih -lfftw3f -lfluidsynth -lsndfile -lsoxr -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -lm $(OPENMP)
ifeq ($(SAN),1)
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDLIBS  += -fsanitize=address,undefined
endif
ifeq ($(SAN),fuzz)
  CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
             -Wno-unknown-pragmas -Wno-source-uses-openmp -Wno-unused-variable -Wno-unused-but-set-variable
  LDLIBS  += -fsanitize=fuzzer,address,undefined
endif
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 20


HOST_SRC  := $(sort $(shell find host -name '*.c' ! -path 'host/cli/main.c'))
HOST_OBJ  := $(HOST_SRC:%.c=$(BUILD)/%.o)
TEST_SRC  := $(sort $(wildcard tests/test_*.c tests/oracle/*.c))
TEST_BIN  := $(patsubst %.c,$(BUILD)/%,$(TEST_SRC))
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN := $(patsubst %.c,$(BUILD)/%,$(BENCH_SRC))
LIB       := $(BUILD)/libauratag.a

.PHONY: all test asan bench check clean demo deps fuzz fuzz-build
all: auratag

$(BUILD)/auratag: $(BUILD)/host/cli/main.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

auratag: $(BUILD)/auratag
	@if [ "$(BUILD)" = build ]; then cp $< $@.tmp && mv -f $@.tmp $@; fi

$(LIB): $(HOST_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDLIBS)

test: $(BUILD)/auratag $(TEST_BIN)
	AURATAG_BUILD=$(BUILD) bash tests/run_tests.sh

# Everything again under AddressSanitizer + UBSan (the PyTorch oracle runs its
# small cases there; the full-size FCN-4 comparison runs in `make test`).
asan:
	$(MAKE) BUILD=build-asan SAN=1 AURATAG_QUICK=1 test

# libFuzzer targets for the config parser and the cache reader, run briefly
# (FUZZ_SECONDS each) from seed corpora of the shipped files.
fuzz:
	$(MAKE) BUILD=build-fuzz SAN=fuzz fuzz-build
	bash tests/fuzz/run_fuzz.sh build-fuzz $(FUZZ_SECONDS)

fuzz-build: $(patsubst %.c,$(BUILD)/%,$(FUZZ_SRC))

$(BUILD)/tests/fuzz/%: tests/fuzz/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDLIBS)

bench: $(BUILD)/auratag $(BENCH_BIN)
	AURATAG_BUILD=$(BUILD) bash tests/bench/run_bench.sh

# The README's two commands: each installs missing packages, builds and runs.
deps:
	@bash scripts/install-deps.sh

demo: deps
	$(MAKE) auratag
	bash scripts/demo.sh

check: deps
	$(MAKE) test
	$(MAKE) asan
	$(MAKE) fuzz

clean:
	rm -rf build build-asan build-fuzz auratag

-include $(HOST_OBJ:.o=.d) $(BUILD)/host/cli/main.d
