# The two README commands: `make run` and `make test`. Everything else is CMake.
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# `make fuzz`: seconds per harness, and where new inputs and crash artifacts go
# (outside the source tree; tests/fuzz/corpus/ is only read).
FUZZ_SECONDS ?= 30
FUZZ_OUT ?= /tmp/scalespace-fuzz
FUZZERS = png idx mnist_json safetensors torchfile

.PHONY: run test test-asan fuzz build setup bench clean notebook kernel-install

setup:
	@tools/setup.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: setup $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

# The main example on built-in data.
run: build
	$(BUILD)/scalespace examples/scale_spaces.lua out

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# Jupyter (Debian's jupyter-notebook; JupyterLab is not in Debian 12) on notebooks/, with the
# scalespace kernel of this build.
notebook:
	@SS_SETUP_NOTEBOOK=1 tools/setup.sh
	$(MAKE) build
	JUPYTER_PATH=$(abspath $(BUILD))/share/jupyter jupyter notebook --notebook-dir=notebooks \
	  $(if $(filter 0,$(shell id -u)),--allow-root)

# The kernelspec for this user (it runs this build's executable): any Jupyter then offers
# "scalespace (Lua)".
kernel-install: build
	jupyter kernelspec install --user --replace --name scalespace $(BUILD)/share/jupyter/kernels/scalespace

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole suite (CPU build).
test-asan: setup
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DSS_SANITIZE=ON -DSS_CUDA=OFF
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS)

# libFuzzer + ASan + UBSan on every file reader for FUZZ_SECONDS each (clang; installs it
# when root). Fails on any finding; the input that found it is in $(FUZZ_OUT)/crashes.
fuzz:
	@SS_SETUP_FUZZ=1 tools/setup.sh
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DSS_FUZZ=ON -DSS_CUDA=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZERS))
	@set -e; mkdir -p $(FUZZ_OUT)/crashes; for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_OUT)/corpus/$$f; \
	  echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
	  $(BUILD_FUZZ)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -malloc_limit_mb=1024 \
	    -timeout=20 -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/crashes/$$f- \
	    $(FUZZ_OUT)/corpus/$$f tests/fuzz/corpus/$$f 2>$(FUZZ_OUT)/$$f.log \
	    || { tail -n 60 $(FUZZ_OUT)/$$f.log; echo "fuzz_$$f: FINDING (artifact in $(FUZZ_OUT)/crashes)"; exit 1; }; \
	  grep -E "^(#[0-9]+[[:space:]]+DONE|stat::peak_rss_mb)" $(FUZZ_OUT)/$$f.log; \
	done

# Benchmarks against scipy/PyTorch (installs the Python peers when root).
bench:
	@SS_SETUP_PEERS=1 tools/setup.sh
	$(MAKE) build
	@for b in bench/*.lua; do $(BUILD)/scalespace $$b; done

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
