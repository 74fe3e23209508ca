# The two commands of the README's quick start, and a few more.
# MNIST is looked up in --data-dir, $VAEGAN_DATA_DIR, ~/.cache/vaegan, /usr/share/datasets,
# then downloaded; beside a checkout with ../shared/data (the build machines) that folder is used.
SHELL := /bin/bash
export VAEGAN_DATA_DIR ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data),)
VENV := .venv/bin

.PHONY: setup demo test lint bench notebooks docs

setup:
	@scripts/setup.sh

demo: setup  ## train the default VAE on MNIST into outputs/mnist_vae
	$(VENV)/vaegan train --config mnist_vae --overwrite
	$(VENV)/vaegan sample outputs/mnist_vae --n 64 --out outputs/mnist_vae/samples.png
	$(VENV)/vaegan reconstruct outputs/mnist_vae --out outputs/mnist_vae/test_recons.png

TEST_WORKERS ?= 2

test: setup  ## the layers contract, then the whole test suite (what CI runs) in TEST_WORKERS processes
	$(VENV)/lint-imports --no-cache
	OMP_NUM_THREADS=1 $(VENV)/python -m pytest -q -n $(TEST_WORKERS)

lint: setup
	$(VENV)/ruff check src tests benchmarks

bench: setup  ## the training-throughput benchmark (the others, each one command: benchmarks/README.md)
	$(VENV)/python benchmarks/throughput.py

notebooks: setup  ## JupyterLab on notebooks/ (installs the `notebooks` extra into .venv on first use)
	@$(VENV)/python -c "import jupyterlab, jupytext" 2>/dev/null || $(VENV)/python -m pip install -q -e ".[notebooks]"
	$(VENV)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

docs: setup  ## the documentation site into site/ (notebooks shown with their committed outputs, not re-run)
	@$(VENV)/python -c "import material, mkdocs_jupyter, mkdocstrings_handlers.python" 2>/dev/null \
		|| $(VENV)/python -m pip install -q -e ".[docs]"
	$(VENV)/mkdocs build --strict
