# The newcomer's two commands: `make run` (the main job) and `make test` (the test suite).
# Each first sets up .venv with the project and its test extras when it is missing or older
# than pyproject.toml, then reuses it. Extra arguments pass through: make test ARGS='-k scaleout'.
# make turns any failing command into its own exit status 2; the command's own code
# (0 held, 1 an invariant failed, 2 could not run) is printed, and pipelines that branch on
# it call .venv/bin/iu-harness directly.

PYTHON ?= python3
VENV := .venv
READY := $(VENV)/.iu-harness-installed
SCENARIO ?= scenarios/scaleout-mixed.toml
ARGS ?=

.PHONY: run test setup

run: $(READY)
	@$(VENV)/bin/iu-harness run $(SCENARIO) $(ARGS); code=$$?; \
	  echo "iu-harness run exited $$code (0 every invariant held, 1 an invariant failed, 2 could not run);" \
	       "reports: $(CURDIR)/reports/ unless --report-dir or IU_HARNESS_REPORT_DIR says otherwise (one .md + .json per N, the sweep report and its .png)"; \
	  exit $$code

test: $(READY)
	$(VENV)/bin/pytest $(ARGS)

setup: $(READY)

$(READY): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@
