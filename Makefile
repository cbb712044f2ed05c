# Thin wrapper over CMake. See README.md.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

PREFIX ?= /usr/local

.PHONY: all build demo test test-tsan bench verify fuzz fuzz-example install deb detect kernel-tests clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@bash examples/run-demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# Concurrency tests under ThreadSanitizer (run by CI).
test-tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUKASAN_TSAN=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && ctest --output-on-failure -L stress

# Libraries, headers, wrappers, CMake package, pkg-config under $(PREFIX)
# (relocatable: the installed files find the prefix from where they are).
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# A Debian package (CPack) of what `make install` installs, under /usr:
# $(BUILD)/package/ukasan_<version>_<arch>.deb.
deb: build
	cd $(BUILD) && cpack -G DEB
	@ls $(BUILD)/package/*.deb

bench: build
	@if [ -x bench/run.sh ]; then bash bench/run.sh $(BUILD); else echo "no benchmarks yet"; fi

# Long run of the slab API fuzzer (tests/fuzz): FUZZ_TIME seconds (default 600), 2 jobs.
fuzz: build
	@bash tests/fuzz/run_fuzz.sh $(abspath $(BUILD))/bin/slab_fuzzer $(CURDIR)/tests/fuzz/corpus $(abspath $(BUILD))/fuzz-long $(or $(FUZZ_TIME),600) -jobs=2 -workers=2; rc=$$?; [ $$rc = 77 ] && rc=0; exit $$rc

# A libFuzzer target on ukasan (examples/fuzz_target.c): fuzzes until the
# report, which libFuzzer saves as crash-* in $(BUILD)/fuzz-example.
fuzz-example: build
	@mkdir -p $(BUILD)/fuzz-example/corpus && cd $(BUILD)/fuzz-example && \
	  $(abspath $(BUILD))/bin/ukasan-clang -g -O1 -fsanitize=fuzzer $(CURDIR)/examples/fuzz_target.c -o fuzz_target && \
	  printf FUZ > corpus/seed && (UKASAN_OPTIONS=fault=abort ./fuzz_target -max_total_time=60 corpus; true) && ls crash-*

# Per-CWE detection table (tests/detect): ASan, ukasan-cc (gcc, clang), the
# preload, KFENCE; fails on any false report on the GOOD programs.
detect: build
	@bash tests/detect/run.sh $(BUILD)

verify:
	@bash verify/run.sh

# The kernel's user-space test harness (tools/testing/radix-tree: xarray,
# idr-test, multiorder, maple, main) on ukasan (contrib/kernel-tests): from
# Debian's linux-source-6.1, or KERNEL_SRC=DIR; KT_TARGETS, KT_MODE=asan (the
# upstream build), KT_SKIP: see contrib/kernel-tests/run.sh.
kernel-tests: build
	@JOBS=$(JOBS) bash contrib/kernel-tests/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-tsan
