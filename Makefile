# Sovereign: every target creates the project's virtual environment first,
# so a fresh clone needs only Python 3, make and git.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
BOARD   ?= m3
STAMP   := $(VENV)/.installed

.PHONY: all kernel test run qemu model bench bench-emulator chainload probe clean distclean venv

all: kernel

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# DISK=image.img: kernel.bin and kernel.macho carry it as a RAM disk (board m3);
# make run / make qemu give it to the emulated M3 / QEMU's virtio-blk.
DISK    ?=
DISKARG := $(if $(DISK),--disk $(DISK))

# MODEL=1: make run / make qemu take the cached model image as the disk
# (fetched if missing); MODEL=image.svlm: that image (not with DISK).
MODEL   ?=
MODELARG := $(if $(MODEL),--model $(if $(filter 1,$(MODEL)),,$(MODEL)))

kernel: $(STAMP)
	$(PY) -m harness build --board $(BOARD) $(if $(filter m3,$(BOARD)),$(DISKARG))

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

run: kernel
	$(PY) -m harness run --board $(BOARD) $(DISKARG) $(MODELARG)

# The virt board under QEMU (qemu-system-aarch64), console on the terminal:
#   make qemu            (Ctrl-A x leaves; DISK=image.img: a virtio-blk disk)
qemu: $(STAMP)
	$(PY) -m harness build --board virt
	$(PY) -m harness qemu $(DISKARG) $(MODELARG) $(QEMU_ARGS)

# SmolLM2-135M as a model image in the cache (docs/llm.md): downloaded and
# converted once ($SOVEREIGN_CACHE/models, else ~/.cache/sovereign/models)
model: $(STAMP)
	$(PY) -m harness model fetch

# MEMORY_MODEL=off: the static cycle model alone (harness/costs.py MEMORY not charged)
MEMORY_MODEL ?= on
bench: kernel
	$(PY) -m harness bench --board $(BOARD) --memory-model $(MEMORY_MODEL)
	@if command -v qemu-system-aarch64 >/dev/null 2>&1; then \
	    $(PY) -m harness bench --qemu-files; \
	else echo "no qemu-system-aarch64: the file rows under QEMU's virtio-blk are left out"; fi

bench-emulator: kernel
	$(PY) -m harness bench-emulator --board $(BOARD)

# Chainload onto a real M3 through m1n1's proxy:
#   make chainload M1N1DIR=~/src/m1n1 M1N1DEVICE=/dev/ttyACM0
chainload: kernel
	$(PY) -m harness chainload --board $(BOARD)

# Before chainloading: every hardware fact the kernel relies on, asked of the
# M3 through m1n1's proxy (docs/hardware.md "The probe"):
#   make probe M1N1DIR=~/src/m1n1 M1N1DEVICE=/dev/ttyACM0
#   make probe PROBE_ARGS="--standin t8122"     (the emulated M3 instead)
probe: kernel
	$(PY) -m harness probe $(PROBE_ARGS)

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV)
