# The machine ceilings micro-benchmark (ggml-lens-machine). Include from the main bpf/Makefile, or
# build alone with `make -C bpf/machine -f machine.mk`. Built for the baseline ISA at -O2: the
# kernels of wider ISAs carry their own target attributes and are chosen at run time.

MACHINE_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BPF_BUILD ?= $(MACHINE_DIR)/../build
MACHINE_BIN := $(BPF_BUILD)/ggml-lens-machine
MACHINE_CFLAGS := -O2 -g -Wall -Wextra -std=gnu11 -pthread
MACHINE_CC ?= cc

$(MACHINE_BIN): $(MACHINE_DIR)/machine.c $(MACHINE_DIR)/kernels.c $(MACHINE_DIR)/kernels.h
	@mkdir -p $(@D)
	$(MACHINE_CC) $(MACHINE_CFLAGS) $(MACHINE_DIR)/machine.c $(MACHINE_DIR)/kernels.c -o $@

.PHONY: machine
machine: $(MACHINE_BIN)
