# Two entry points for a newcomer: `make run` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: setup test-setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1; without .pyc imports are 2.4x slower
	$(BIN)/uv pip install -q --python $(BIN)/python --compile-bytecode -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $@

test-setup: setup
	bash tests/bqemu/setup.sh
	bash tests/serving/setup_browser.sh

run: setup
	$(BIN)/creditrisk bootstrap $(if $(DATA),--data $(DATA),)
	$(BIN)/creditrisk status

test: test-setup
	$(BIN)/python -m pytest -q -ra

bench: setup
	$(BIN)/python bench/model_quality.py

clean:
	rm -rf .creditrisk
