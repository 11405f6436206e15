# The two commands of the README, and a few more.
#   make demo   install what is missing, build, and play the story of a dialog
#   make test   install what is missing, build (also with ASan+UBSan), run every test
#   make fuzz   libFuzzer targets (FUZZ_SECONDS=60 each by default)
#   make bench  every benchmark; figures in build/bench-out/results.md
.PHONY: all deps build test demo fuzz bench clean distclean

all: build

deps:
	@scripts/bootstrap.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$$(nproc)

test:
	@scripts/test.sh

demo:
	@scripts/demo.sh

fuzz:
	@scripts/fuzz.sh

bench:
	@bench/run-all.sh

clean:
	rm -rf build build-asan build-fuzz

distclean: clean
	-scripts/pg.sh stop var 2>/dev/null
	rm -rf var
