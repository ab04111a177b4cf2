# Two commands do everything on a fresh machine (each sets up only what is missing, then runs):
#   make run    the README's main job (rnn-timescales train)
#   make test   the test suite
# Set-up: a virtual environment in .venv with the package, its test tools and PyTorch. PyTorch is
# installed only if the environment has none: TORCH names what to install (default 2.13.0) and
# TORCH_INDEX an index to take it from instead of pip's own (default none: on the project's machines
# pip finds the CPU build of 2.13.0 locally; on a Linux machine with internet, `make test
# TORCH_INDEX=https://download.pytorch.org/whl/cpu` takes the CPU build rather than the CUDA one).

VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# test processes (pytest-xdist): one per CPU, at most 4 (each holds PyTorch and trains small networks);
# each test file runs whole in one process, so its module fixtures are built once; TEST_WORKERS=0 runs
# the suite in this process
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 4 ] && n=4; echo $$n)
BIN := $(VENV)/bin
STAMP := $(VENV)/.rnn-timescales-installed

.PHONY: run test setup clean

run: $(STAMP)
	$(BIN)/rnn-timescales train

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=30 -n $(TEST_WORKERS) --dist loadfile

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf $(VENV)
