# The README's quick start:
#   make tour    build (release) and run `vas tour`
#   make test    build and run every test twice: a debug build with AddressSanitizer,
#                UndefinedBehaviorSanitizer and the invariant checker, then an optimised release build
#                (first installing, as root, the Debian packages some tests use: .ci/deps)
# Also: make bench (benchmarks, see docs/performance.md), make install PREFIX=..., make clean.
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
CMAKE  ?= cmake

.PHONY: all tour deps test test-debug test-release bench install clean

all: build/release/vas

build/release/Makefile:
	$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=Release

build/debug/Makefile:
	$(CMAKE) -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DVAS_DEBUG=ON -DVAS_SANITIZE=ON

build/release/vas: build/release/Makefile FORCE
	$(CMAKE) --build build/release -j $(JOBS)

tour: build/release/vas
	./build/release/vas tour

deps:
	@./.ci/deps

# deps first, alone: the test builds look for the cross compilers when they are configured.
test:
	@./.ci/deps
	$(MAKE) test-debug test-release

test-debug: build/debug/Makefile
	$(CMAKE) --build build/debug -j $(JOBS)
	cd build/debug && ctest --output-on-failure -j $(JOBS)

test-release: build/release/vas
	cd build/release && ctest --output-on-failure -j $(JOBS)

bench: build/release/vas
	./build/release/bench/bench_region
	./build/release/bench/bench_access
	./build/release/bench/bench_paging
	./build/release/bench/bench_section

install: build/release/vas
	$(CMAKE) --install build/release --prefix $(PREFIX)

clean:
	rm -rf build

FORCE:
