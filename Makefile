# genzoo: two commands do all set-up on a fresh machine.
#   make demo   installs everything, trains the book's VAE on Fashion-MNIST, writes samples + reconstructions
#   make test   installs everything and runs the test suite (slow tests excluded; `make test-slow` runs them)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_RUN ?= runs/demo-vae-digits
DEMO_EPOCHS ?= 2

.PHONY: setup system-packages demo test test-slow bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch (a plain `pip install torch` would fetch a multi-GB CUDA build).
	$(PY) -m pip install --quiet torch==2.13.0 || $(PY) -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	$(PY) -m pip install --quiet -e '.[test,tensorboard]'
	touch $@

system-packages:
	@bash scripts/install-system-data.sh

setup: system-packages $(VENV)/.installed

demo: setup
	rm -rf $(DEMO_RUN)
	$(VENV)/bin/genzoo train vae-digits --epochs $(DEMO_EPOCHS) --out $(DEMO_RUN)
	$(VENV)/bin/genzoo sample $(DEMO_RUN) -n 64 --seed 0 --out $(DEMO_RUN)/samples/demo-samples.png
	$(VENV)/bin/genzoo analyze $(DEMO_RUN) reconstructions
	$(VENV)/bin/genzoo analyze $(DEMO_RUN) latent-scatter
	@echo "Samples: $(DEMO_RUN)/samples/demo-samples.png  Reconstructions: $(DEMO_RUN)/analysis/reconstructions.png"

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

bench: setup
	$(PY) benchmarks/bench.py --out bench-results/bench.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
