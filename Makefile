# make run  : install into .venv (torch CPU wheel first) and run the default experiment on the demo thread
# make test : install, then run the test suite
# GPU users: make run TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup run test lint lab kernel clean-outputs
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: setup
	$(BIN)/toolkit $(ARGS)

test: setup
	$(BIN)/pytest $(ARGS)

lint: setup
	$(BIN)/ruff check toolkit tests benchmarks

kernel: setup
	$(BIN)/python -m ipykernel install --sys-prefix --name toolkit --display-name "Python (toolkit)"

lab: kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ARGS)

clean-outputs:
	rm -rf outputs multirun
