# The two commands of the README, and a few more.
#   make demo   install what is missing, build, and play the story of a dialog
#   make test   install what is missing, build (also with ASan+UBSan), run every test
#   make fuzz   libFuzzer targets (FUZZ_SECONDS=60 each by default)
#   make bench  every benchmark; report in build/bench-out/performance.md (QUICK=1: shorter)
#   make chaos  the fault suite; report in build/chaos-out/report.md (docs/reliability.md)
.PHONY: all deps build test demo fuzz bench chaos clean distclean

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

# make bench: everything, full populations (~20 min on 2 cores); make bench QUICK=1: shorter
# runs, smaller populations (~6 min). BUILD=dir picks the build directory (default build).
# Report: $(BUILD)/bench-out/performance.md (bench/performance.md.in filled by bench/render.sh).
bench:
	@bench/run-all.sh

chaos:
	@tests/chaos/run.sh

clean:
	rm -rf build build-asan build-fuzz

distclean: clean
	-scripts/pg.sh stop var 2>/dev/null
	rm -rf var
