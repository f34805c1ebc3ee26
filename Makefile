# quotetape entry points. Each installs missing system packages first
# (scripts/deps.sh), then configures and builds with CMake.
BUILD     ?= build
BUILD_SAN ?= build-san
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DQT_WERROR=ON

.PHONY: all deps build demo test test-fast test-san bench clean

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job on the embedded default: the SPY sample tape replayed through an
# in-process broker, windowed, charted.
demo: build
	./$(BUILD)/quotetape demo --out spy.png

# Every test: the normal build (gcc), then the same suite under ASan + UBSan
# built with clang, which also builds the libFuzzer targets and runs each for
# a bounded time.
test: test-fast test-san

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-san: deps
	@CC=clang cmake -S . -B $(BUILD_SAN) $(CMAKE_FLAGS) -DQT_SANITIZE=ON -DQT_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

bench: build
	./bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
