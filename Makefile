# The two README commands: `make run` and `make test`. Everything else is CMake.
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: run test test-asan build setup bench clean notebook kernel-install

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

# Benchmarks against scipy/PyTorch (installs the Python peers when root).
bench:
	@SS_SETUP_PEERS=1 tools/setup.sh
	$(MAKE) build
	@for b in bench/*.lua; do $(BUILD)/scalespace $$b; done

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
