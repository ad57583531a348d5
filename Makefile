# auratag build.  `make` builds ./auratag; `make test`, `make asan`, `make bench`.
# The CUDA backend is built whenever nvcc is found (CUDA=0 turns it off).

.DEFAULT_GOAL := all
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
# oneDNN (the pthread flavour would spin against them; see docs/cpu-performance.md).
BLAS_DIR  := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC  := /usr/include/x86_64-linux-gnu/openblas-openmp
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS   := $(shell pkg-config --libs hdf5 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)

CFLAGS  := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPENMP) $(OPT) \
           -Ihost -I$(BLAS_INC) $(HDF5_CFLAGS)
LDLIBS  := $(HDF5_LIBS) -linih -lfftw3f -lfluidsynth -lsndfile -lsoxr -lpng -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -lprotobuf-c -lzip -llinear -lsvm -llapacke -lcjson -lm $(OPENMP)
ifeq ($(SAN),1)
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDLIBS  += -fsanitize=address,undefined
endif
ifeq ($(SAN),fuzz)
  CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
             -Wno-unknown-pragmas -Wno-source-uses-openmp -Wno-unused-variable -Wno-unused-but-set-variable
  # the CPU backend asks OpenMP how many threads it has (serial answers here)
  LDLIBS  += -fsanitize=fuzzer,address,undefined -lgomp
endif
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 12


# ---- MPI (data parallelism): built in whenever mpicc is found, unless MPI=0;
# the sanitizer and fuzz builds leave it out ----
MPICC := $(shell command -v mpicc 2>/dev/null)
ifeq ($(SAN),0)
  MPI ?= $(if $(MPICC),1,0)
else
  MPI ?= 0
endif
ifeq ($(MPI),1)
  MPI_CFLAGS := $(shell mpicc --showme:compile) -DAT_WITH_MPI
  LDLIBS     += $(shell mpicc --showme:link)
endif

HOST_SRC  := $(sort $(shell find host -name '*.c' ! -path 'host/cli/main.c' ! -path 'host/cuda/*'))
# ONNX's own schema (Debian libonnx-dev), compiled by protoc-c into the
# export's protobuf code (host/export/onnx_file.c)
ONNX_PROTO   := /usr/include/onnx/onnx.proto
ONNX_PBC     := $(BUILD)/generated/onnx/onnx.pb-c.c
ONNX_PBC_OBJ := $(BUILD)/generated/onnx/onnx.pb-c.o
# TensorBoard's event format (host/train/tensorboard.c): our own .proto of the
# subset auratag writes, with TensorBoard's names and field numbers (Debian
# ships no TensorBoard schema)
TB_PROTO     := proto/tensorboard_event.proto
TB_PBC       := $(BUILD)/generated/tensorboard/tensorboard_event.pb-c.c
TB_PBC_OBJ   := $(BUILD)/generated/tensorboard/tensorboard_event.pb-c.o
HOST_OBJ  := $(HOST_SRC:%.c=$(BUILD)/%.o) $(ONNX_PBC_OBJ) $(TB_PBC_OBJ)
TEST_SRC  := $(sort $(wildcard tests/test_*.c tests/oracle/*.c))
TEST_BIN  := $(patsubst %.c,$(BUILD)/%,$(TEST_SRC))
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN := $(patsubst %.c,$(BUILD)/%,$(BENCH_SRC))
LIB       := $(BUILD)/libauratag.a

# Every layer type is the `const LayerKind k_layer_NAME = {` that a file of
# host/nn/layers/ defines; the registry's list is collected from them, so a
# new type is its file alone (docs/architecture.md).
LAYER_SRC   := $(sort $(filter-out host/nn/layers/layer_registry.c,$(wildcard host/nn/layers/*.c)))
LAYER_KINDS := $(BUILD)/generated/layer_kinds.h

# ---- hand-written kernels on the CPU (tests): kernels/cuemu.h ----
# Every kernels/*.cu also compiles as C++17 under the emulation header; the
# kernel tests (tests/cuda/test_*.c) drive them from C and compare with the
# CPU backend.
CXX          := g++
KERNEL_SRC   := $(sort $(wildcard kernels/*.cu))
KERNEL_HDR   := $(wildcard kernels/*.h)
EMU_OBJ      := $(KERNEL_SRC:%.cu=$(BUILD)/emu/%.o) $(BUILD)/emu/kernels/cuemu_runtime.o
EMU_LIB      := $(BUILD)/libauratag_emu.a
EMU_CXXFLAGS := -std=c++17 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -DAT_CUEMU -Ikernels -Ihost $(OPT)
ifeq ($(SAN),1)
  EMU_CXXFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
CUDA_TEST_SRC := $(sort $(wildcard tests/cuda/test_*.c))
CUDA_TEST_BIN := $(patsubst %.c,$(BUILD)/%,$(CUDA_TEST_SRC))

$(BUILD)/emu/%.o: %.cu $(KERNEL_HDR) host/nn/backend.h host/core/philox.h host/core/scalar_math.h
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -x c++ -c -o $@ $<

$(BUILD)/emu/kernels/cuemu_runtime.o: kernels/cuemu_runtime.cpp $(KERNEL_HDR)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -c -o $@ $<

$(EMU_LIB): $(EMU_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The emulator's own probes: kernels compiled only under the emulator.
$(BUILD)/tests/cuda/test_kernels_cuemu: $(BUILD)/emu/tests/cuda/cuemu_probe.o
$(BUILD)/tests/cuda/test_kernels_cuemu: EXTRA_OBJ = $(BUILD)/emu/tests/cuda/cuemu_probe.o
$(BUILD)/emu/tests/cuda/cuemu_probe.o: EMU_CXXFLAGS += -Itests/cuda

$(BUILD)/tests/cuda/test_kernels_%: tests/cuda/test_kernels_%.c tests/cuda/kernel_test.h tests/test_util.h $(LIB) $(EMU_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Ikernels -o $@ $< $(EXTRA_OBJ) $(EMU_LIB) $(LIB) $(LDLIBS) -lstdc++


.PHONY: all test unit asan bench check clean demo deps fuzz fuzz-build FORCE
all: auratag

$(BUILD)/host/dist/dist.o: CFLAGS += $(MPI_CFLAGS)
$(BUILD)/host/dist/dist.o: $(BUILD)/mpi-$(MPI)
$(BUILD)/mpi-0 $(BUILD)/mpi-1:
	@mkdir -p $(BUILD) && rm -f $(BUILD)/mpi-0 $(BUILD)/mpi-1 && touch $@

# ---- the CUDA backend ----
# Built whenever nvcc is found (PATH or /usr/local/cuda), unless CUDA=0; the
# sanitizer and fuzz builds leave it out (their tests run the kernels and the
# backend's host code under emulation, which needs no nvcc).
NVCC      ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
ifeq ($(SAN),0)
  CUDA ?= $(if $(NVCC),1,0)
else
  CUDA ?= 0
endif
CUDA_INC  := $(CUDA_HOME)/include
CUDA_LIBDIR := $(CUDA_HOME)/lib64
# Kernel targets: SASS for each compute capability in CUDA_ARCH (ascending;
# 80: A100 and the other 8.x GPUs, 90: H100/H200) plus PTX of the last, which
# newer GPUs compile at load time. Another GPU: make CUDA_ARCH="75 80 90".
# The backend checks the GPU against the same list at start-up.
CUDA_ARCH ?= 80 90
NVCC_ARCH ?= $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a)) \
             -gencode arch=compute_$(lastword $(CUDA_ARCH)),code=compute_$(lastword $(CUDA_ARCH))
empty :=
CUDA_ARCH_STAMP := $(BUILD)/cuda-arch-$(subst $(empty) $(empty),-,$(strip $(CUDA_ARCH)))
NVCCFLAGS := -std=c++17 -O3 $(NVCC_ARCH) -Xptxas -v -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror \
             -Ikernels -Ihost
# The backend's host code, cudnn_ops.c included: ./auratag links it with the
# real libraries, the emulated builds below with the test doubles.
CUDA_HOST_SRC := $(sort $(wildcard host/cuda/*.c))
CUDA_HOST_OBJ := $(CUDA_HOST_SRC:%.c=$(BUILD)/%.o)
CUDA_LIB      := $(BUILD)/libauratag_cuda.a
NVCC_OBJ      := $(KERNEL_SRC:%.cu=$(BUILD)/cuda/%.o)
FAKE_OBJ      := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/cuda/fake/*.c))
# The backend tests need the toolkit's and cuDNN's headers (not nvcc, not a GPU).
CUDA_HEADERS  := $(and $(wildcard $(CUDA_INC)/cuda_runtime_api.h),$(wildcard $(CUDA_INC)/cudnn.h))
ifeq ($(CUDA_HEADERS),)
  CUDA_TEST_BIN := $(filter-out $(BUILD)/tests/cuda/test_backend_%,$(CUDA_TEST_BIN))
endif

$(CUDA_HOST_OBJ) $(FAKE_OBJ): CFLAGS += -I$(CUDA_INC) -Ikernels
$(BUILD)/host/cuda/cuda_backend.o: CFLAGS += -DAT_CUDA_ARCHS='"$(strip $(CUDA_ARCH))"'
$(BUILD)/host/cuda/cuda_backend.o $(NVCC_OBJ): $(CUDA_ARCH_STAMP)
$(CUDA_ARCH_STAMP):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/cuda-arch-* && touch $@
$(FAKE_OBJ): CFLAGS += $(MPI_CFLAGS)
$(CUDA_LIB): $(CUDA_HOST_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The CUDA backend's host code on the CPU: emulated kernels + test doubles of
# the CUDA runtime, cuBLAS, cuFFT, NCCL and cuDNN (tests/cuda/fake/).
EMU_LINK = @mkdir -p $(dir $@) && \
  $(CC) $(CFLAGS) -I$(CUDA_INC) -Itests -Ikernels -o $@ $< $(FAKE_OBJ) $(CUDA_LIB) $(EMU_LIB) $(LIB) $(LDLIBS) -lstdc++
$(BUILD)/tests/cuda/test_backend_%: tests/cuda/test_backend_%.c $(LIB) $(EMU_LIB) $(CUDA_LIB) $(FAKE_OBJ)
	$(EMU_LINK)
# make bench's count of device memory (every cudaMalloc of the double)
$(BUILD)/tests/cuda/gpu_memory: tests/cuda/gpu_memory.c $(LIB) $(EMU_LIB) $(CUDA_LIB) $(FAKE_OBJ)
	$(EMU_LINK)

# ./auratag with the CUDA backend on emulated kernels and the test doubles:
# the commands themselves (selftest, train --backend cuda) run here.
$(BUILD)/tests/cuda/main_emu.o: host/cli/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DAT_WITH_CUDA -I$(CUDA_INC) -c -o $@ $<

$(BUILD)/tests/cuda/auratag_emu: $(BUILD)/tests/cuda/main_emu.o $(LIB) $(EMU_LIB) $(CUDA_LIB) $(FAKE_OBJ)
	$(CC) $(CFLAGS) -o $@ $< $(FAKE_OBJ) $(CUDA_LIB) $(EMU_LIB) $(LIB) $(LDLIBS) -lstdc++

ifneq ($(CUDA_HEADERS),)
  CUDA_TEST_BIN += $(BUILD)/tests/cuda/auratag_emu
endif

# ptxas statistics (registers, spills) are kept beside each object and
# checked by tests/cuda/check_ptxas.sh.
$(BUILD)/cuda/%.o: %.cu $(KERNEL_HDR) host/nn/backend.h host/core/philox.h host/core/scalar_math.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $< 2> $(@:.o=.ptxas.txt) || { cat $(@:.o=.ptxas.txt); exit 1; }

ifeq ($(CUDA),1)
AURATAG_CUDA_OBJ := $(CUDA_LIB) $(NVCC_OBJ)
AURATAG_CUDA_LIBS := -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudnn -lcublas -lcufft -lnccl -lcudart -lstdc++
$(BUILD)/host/cli/main.o: CFLAGS += -DAT_WITH_CUDA -I$(CUDA_INC)
$(BUILD)/host/cli/main.o: $(BUILD)/cuda-on
else
$(BUILD)/host/cli/main.o: $(BUILD)/cuda-off
endif
# main.o registers the CUDA backend or not: rebuild it when CUDA flips.
$(BUILD)/cuda-on $(BUILD)/cuda-off:
	@mkdir -p $(BUILD) && rm -f $(BUILD)/cuda-on $(BUILD)/cuda-off && touch $@

$(BUILD)/auratag: $(BUILD)/host/cli/main.o $(LIB) $(AURATAG_CUDA_OBJ)
	$(CC) $(CFLAGS) -o $@ $(BUILD)/host/cli/main.o $(LIB) $(AURATAG_CUDA_OBJ) $(LDLIBS) $(AURATAG_CUDA_LIBS)

auratag: $(BUILD)/auratag
	@if [ "$(BUILD)" = build ]; then cp $< $@.tmp && mv -f $@.tmp $@; fi

$(LIB): $(HOST_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LAYER_KINDS): $(LAYER_SRC) Makefile
	@mkdir -p $(dir $@)
	sed -n 's/^const LayerKind \(k_layer_[a-z0-9_]*\) = {.*/AT_LAYER_KIND(\1)/p' $(LAYER_SRC) >$@.tmp
	mv $@.tmp $@

$(ONNX_PBC): $(ONNX_PROTO)
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(dir $@) -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)

$(ONNX_PBC_OBJ): $(ONNX_PBC)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/host/export/onnx_file.o: $(ONNX_PBC)
$(BUILD)/host/export/onnx_file.o: CFLAGS += -I$(BUILD)/generated/onnx

$(TB_PBC): $(TB_PROTO)
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(dir $@) -I$(dir $(TB_PROTO)) $(TB_PROTO)

$(TB_PBC_OBJ): $(TB_PBC)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/host/train/tensorboard.o: $(TB_PBC)
$(BUILD)/host/train/tensorboard.o: CFLAGS += -I$(BUILD)/generated/tensorboard

# The commit a binary was built from (model cards record it): rewritten only
# when it changes, so that nothing rebuilds for nothing.
COMMIT_H := $(BUILD)/generated/commit.h
$(COMMIT_H): FORCE
	@mkdir -p $(dir $@)
	@c=$$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown); \
	  echo "#define AT_COMMIT \"$$c\"" >$@.tmp; cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
FORCE:
$(BUILD)/host/cli/cmd_export.o: $(COMMIT_H)
$(BUILD)/host/cli/cmd_export.o: CFLAGS += -I$(BUILD)/generated

$(BUILD)/host/nn/layers/layer_registry.o: $(LAYER_KINDS)
$(BUILD)/host/nn/layers/layer_registry.o: CFLAGS += -I$(BUILD)/generated

# The optimisers' sqrtf: without errno to set (its argument is never
# negative) gcc vectorises Adam; a correctly rounded sqrt either way, the same
# bits. Only this file: elsewhere it would let gcc swap in libmvec's expf/logf.
$(BUILD)/host/cpu/cpu_optim.o: CFLAGS += -fno-math-errno

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDLIBS)

test: $(BUILD)/auratag $(TEST_BIN) $(CUDA_TEST_BIN)
	AURATAG_BUILD=$(BUILD) bash tests/run_tests.sh

# The fast edit-test loop: the C unit tests and the emulated-kernel and CUDA
# backend tests only (about 30 s on two cores once built). A subset of the
# whole suite: `tests/run_tests.sh PATTERN` runs the tests whose name matches.
unit: $(TEST_BIN) $(filter-out %/auratag_emu,$(CUDA_TEST_BIN))
	AURATAG_BUILD=$(BUILD) bash tests/run_tests.sh --unit

# Everything again under AddressSanitizer + UBSan, for memory errors in
# auratag's own code (AURATAG_QUICK=1: auratag writes the oracle's small
# cases there and PyTorch checks graph_small and the deconvnet; the full
# comparisons run in `make test`).
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

bench: $(BUILD)/auratag $(BENCH_BIN) $(if $(CUDA_HEADERS),$(BUILD)/tests/cuda/gpu_memory)
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

-include $(HOST_OBJ:.o=.d) $(CUDA_HOST_OBJ:.o=.d) $(FAKE_OBJ:.o=.d) $(BUILD)/host/cli/main.d
