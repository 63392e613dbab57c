# make run  : install into .venv (torch CPU wheel first) and run the default experiment on the demo thread
# make test : install, then run the test suite (all of it, as CI does), on TEST_WORKERS processes (pytest-xdist)
# make test-fast : the inner loop, under a minute: no test marked slow, slurm, wheel, notebooks or browser
# GPU users: make run TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup run test test-fast lint lab kernel clean-outputs
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: setup
	$(BIN)/toolkit $(ARGS)

# loadgroup: the tests of one xdist_group (the SLURM cluster, the built wheel) share a worker
TEST_WORKERS ?= 2
test: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(ARGS)

FAST_TIER := not slow and not slurm and not wheel and not notebooks and not browser
test-fast: setup
	$(BIN)/pytest -n $(TEST_WORKERS) -m "$(FAST_TIER)" $(ARGS)

lint: setup
	$(BIN)/ruff check toolkit tests benchmarks

# The "Python (toolkit)" kernel: this venv's python, registered inside the venv (no user-wide kernelspec),
# importing this checkout's toolkit whatever the notebook's folder.
kernel: setup
	$(BIN)/python -m ipykernel install --sys-prefix --name toolkit --display-name "Python (toolkit)" \
		--env PYTHONPATH "$(CURDIR)"

# JupyterLab on notebooks/ with that kernel as the default. Options via ARGS, e.g.
# make lab ARGS="--no-browser --port 8899"   (as root, --allow-root is added)
lab: kernel
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --MappingKernelManager.default_kernel_name=toolkit \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

clean-outputs:
	rm -rf outputs multirun
