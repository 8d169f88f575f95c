# Cairn — the targets a person would guess. `make help` lists them.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
CTEST_ARGS ?=

FUZZ_SECONDS ?= 600

.PHONY: help deps kube build unit e2e test up down demo bench soak fuzz fmt fmt-check clean image install-test

help:
	@echo "make demo    - set everything up and run the demo (first command in the README)"
	@echo "make test    - build, unit tests, then e2e tests against a real local control plane"
	@echo "make deps    - install the Debian packages the project needs (idempotent)"
	@echo "make kube    - build (or reuse) kube-apiserver/controller-manager/kubectl v1.20.2"
	@echo "make build   - configure and compile (build/)"
	@echo "make unit    - unit tests only"
	@echo "make e2e     - e2e tests only (brings a control plane up and down itself)"
	@echo "make image   - build Cairn's image with podman from a debootstrap Debian 12 base (+ pause, e2e app)"
	@echo "make up      - start the local control plane + node simulator (.cairn/);"
	@echo "               CAIRN_REAL_NODE=1 also a real node (containerd, runc, kubelet)"
	@echo "make install-test - the install path end to end (ctest -L install)"
	@echo "make down    - stop exactly what 'make up' started and delete its state"
	@echo "make bench   - run the benchmarks in bench/"
	@echo "make soak    - the webhook at 500 reviews/s for 30 min (SOAK_MINUTES, SOAK_RATE)"
	@echo "make fuzz    - fuzz every parser of outside data, FUZZ_SECONDS (default 600) each"
	@echo "make fmt     - clang-format every C++ file"

deps:
	@hack/install-deps.sh

kube: deps
	@hack/build-kube.sh >/dev/null

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure $(CTEST_ARGS)

e2e: build kube
	cd $(BUILD_DIR) && ctest -L e2e --output-on-failure $(CTEST_ARGS)

# The README's test command, and what .ci/run calls: everything, one summary.
test: build kube
	cd $(BUILD_DIR) && ctest --output-on-failure $(CTEST_ARGS)

# Debian 12 base by debootstrap (cached in ~/.cache/cairn/images), then the
# Dockerfile with podman; prints each image's size and digest.
image: deps
	@hack/image.sh all

install-test: build kube
	cd $(BUILD_DIR) && ctest -L install --output-on-failure $(CTEST_ARGS)

# CAIRN_REAL_NODE=1 make up: also real nodes, which run the images of make image.
up: build kube $(if $(filter 1,$(CAIRN_REAL_NODE)),image)
	@CAIRN_NODE_SIM=$(CURDIR)/$(BUILD_DIR)/hack/node-sim/cairn-node-sim hack/up.sh

down:
	@hack/down.sh

demo: build kube
	@CAIRN_NODE_SIM=$(CURDIR)/$(BUILD_DIR)/hack/node-sim/cairn-node-sim hack/demo.sh

bench: build kube
	@bench/run.sh $(BUILD_DIR)

soak: build kube
	@BENCH=webhook_soak bench/run.sh $(BUILD_DIR)

# Every libFuzzer target of tests/fuzz/ for longer than CI does (hack/fuzz.sh).
fuzz: deps
	@hack/fuzz.sh $(FUZZ_SECONDS)

fmt:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

fmt-check:
	@hack/check-format.sh

clean:
	rm -rf $(BUILD_DIR)
