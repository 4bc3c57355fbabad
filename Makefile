# Set-up is implicit: every target that needs the package depends on `install`,
# so `make test` and `make sweep` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SWEEP_ARGS ?=

.PHONY: install browser test faults lint sweep bench clean

install: $(STAMP) browser

# Headless Chromium renders report.html in its test. Installed only when no browser is on
# PATH, and only where apt-get can (root on Debian, as in CI); elsewhere the test skips.
BROWSERS := chromium-headless-shell chromium chromium-browser
browser:
	@for b in $(BROWSERS); do command -v $$b >/dev/null 2>&1 && exit 0; done; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		export DEBIAN_FRONTEND=noninteractive; log=$$(mktemp); \
		{ apt-get update -qq && \
		  apt-get install -y -qq --no-install-recommends chromium-headless-shell; } >$$log 2>&1 \
			|| { cat $$log; rm -f $$log; exit 1; }; \
		rm -f $$log; \
	else \
		echo "note: no headless Chromium (install chromium-headless-shell); the report's browser test will skip"; \
	fi

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	# disentanglement_lib is the reference the metric tests compare against. Its declared
	# dependencies are TF1-era packages its metric modules do not need, hence --no-deps.
	$(PY) -m pip install --quiet --no-deps disentanglement-lib==1.5 gin-config==0.4.0
	touch $@

test: install
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# The fault-injection tests' long mode (tests/cli/test_faults_cli.py): more random kills and
# Ctrl-Cs than the few `make test` runs; prints the census of what each fault did.
faults: install
	KBETAVAE_FAULTS=long $(PY) -m pytest -q -s -n 0 tests/cli/test_faults_cli.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

sweep: install
	$(VENV)/bin/kbetavae sweep $(SWEEP_ARGS)

bench: install
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
