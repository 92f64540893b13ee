# Target analysis (ELF/DWARF reader) for ggml-lens.  Include from the main
# bpf/Makefile, or build alone with `make -C bpf/target`.
#
# Provides: $(TARGET_LIB) (static library for the probe helper: link it with
# $(TARGET_LDLIBS)), $(TARGET_CLI) (JSON dump), targets target-lib,
# target-cli, target-clean.

TARGET_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BPF_BUILD ?= $(TARGET_DIR)/../build
TARGET_OBJDIR := $(BPF_BUILD)/target

TARGET_SRCS := util.c elfimg.c symbols.c dwarf_types.c dwarf_loc.c dwarf_sites.c \
	tables.c donor.c plan.c layout.c json.c jsonw.c symbolize.c source_lines.c line_files.c
TARGET_OBJS := $(TARGET_SRCS:%.c=$(TARGET_OBJDIR)/%.o)
TARGET_LIB := $(BPF_BUILD)/libggml-lens-target.a
TARGET_CLI := $(BPF_BUILD)/ggml-lens-layout $(BPF_BUILD)/ggml-lens-symbolize
TARGET_LDLIBS := -ldw -lelf -lz
TARGET_CFLAGS := -std=c11 -O2 -g -Wall -Wextra $(EXTRA_CFLAGS)
TARGET_CC ?= cc

$(TARGET_OBJDIR)/%.o: $(TARGET_DIR)/%.c $(TARGET_DIR)/layout.h $(TARGET_DIR)/internal.h $(TARGET_DIR)/jsonw.h
	@mkdir -p $(@D)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $< -o $@

$(TARGET_LIB): $(TARGET_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(TARGET_OBJDIR)/symbolize.o: $(TARGET_DIR)/symbolize.h

$(TARGET_CLI): $(BPF_BUILD)/%: $(TARGET_DIR)/%.c $(TARGET_LIB) $(TARGET_DIR)/symbolize.h
	$(TARGET_CC) $(TARGET_CFLAGS) $< $(TARGET_LIB) $(TARGET_LDLIBS) -o $@

.PHONY: target-lib target-cli target-clean
target-lib: $(TARGET_LIB)
target-cli: $(TARGET_CLI)
target-clean:
	rm -rf $(TARGET_OBJDIR) $(TARGET_LIB) $(TARGET_CLI)
