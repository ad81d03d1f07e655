# Two entry points for a newcomer: `make run` (set up + main job) and `make test` (set up + tests);
# `make rehearse` sets up and runs the production rehearsal.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: setup rehearse-setup test-setup run rehearse lint test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1; without .pyc imports are 2.4x slower
	$(BIN)/uv pip install -q --python $(BIN)/python --compile-bytecode -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $@

# What `creditrisk rehearse` starts besides the project venv: the BigQuery emulator (its own venv)
# Debian's PostgreSQL (creditrisk_app/rehearsal/parts.py), Prometheus and its pushgateway.
rehearse-setup: setup
	bash tests/bqemu/setup.sh
	bash tests/postgres/setup.sh
	bash tests/prometheus/setup.sh

test-setup: rehearse-setup
	bash tests/serving/setup_browser.sh

run: setup
	$(BIN)/creditrisk demo $(if $(DATA),--data $(DATA),) $(ARGS)

rehearse: rehearse-setup
	$(BIN)/creditrisk rehearse $(if $(DATA),--data $(DATA),) $(ARGS)

lint: setup
	$(BIN)/ruff check .

test: test-setup lint
	$(BIN)/python -m pytest -q -ra --durations=20

bench: setup
	$(BIN)/python bench/model_quality.py
	$(BIN)/python bench/drift_bench.py
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(BIN)/python bench/serve_bench.py

clean:
	rm -rf .creditrisk
