# The two commands of the README: `make repro` (pipeline) and `make test` (tests).
# Both build the environment in .venv from requirements.lock first (see README, "Environment and lock file").
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.big_mood-installed
# Tools that are not part of the project's environment: pip-compile for `make lock`, quarto for `make docs`.
TOOLS  := .venv-tools
PIP_TOOLS  ?= pip==26.3 pip-tools==7.7.0
QUARTO_CLI ?= quarto-cli==1.11.9
# An extra package index for torch alone, e.g. PyTorch's CPU wheels: TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Empty (the default): pip's own configuration, whose torch on Linux x86_64 is PyPI's CUDA build unless a CPU
# wheel of the locked version is at hand (on this project's machines it is).
TORCH_INDEX ?=
TORCH_PIP   := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
# Extra pip-compile options for `make lock`, e.g. LOCK_ARGS=--upgrade or LOCK_ARGS="--upgrade-package pandas".
LOCK_ARGS ?=

.PHONY: setup test repro lock docs export clean-nbs lab

setup: $(STAMP)

# torch first, on its own, at the lock's version: its build (CPU or CUDA) is chosen here, by TORCH_INDEX.
# Then exactly the lock (--no-deps: nothing unpinned can slip in), this package, and a consistency check.
$(STAMP): requirements.lock setup.py settings.ini
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH_PIP) -c requirements.lock torch
	$(BIN)/pip install --quiet --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

test: setup
	TQDM_DISABLE=1 DVC_NO_ANALYTICS=1 $(BIN)/python -m pytest

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" DVC_NO_ANALYTICS=1 $(BIN)/dvc repro

# Refresh requirements.lock from requirements.txt, keeping every pin that still fits (LOCK_ARGS=--upgrade moves
# all); the lines of a merge conflict in the lock are dropped first, so only those packages are resolved anew.
# torch is resolved from its CPU wheel (here, or with TORCH_INDEX) and written without its +cpu label, so the lock
# holds no CUDA libraries and `make setup` picks the build; a lock that pulled them in is refused.
lock: $(TOOLS)/bin/pip-compile
	test ! -f requirements.lock || sed -i '/^<<<<<<< /,/^>>>>>>> /d' requirements.lock
	CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS)/bin/pip-compile --quiet --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links $(TORCH_PIP) $(LOCK_ARGS) -o requirements.lock requirements.txt
	sed -i -E 's/^(torch==[^+ ;]+)\+[A-Za-z0-9.]+/\1/' requirements.lock
	@! grep -E '^(nvidia-(cu|nv|nccl)[a-z0-9-]*|cuda-(toolkit|bindings|pathfinder|python)|triton)==' requirements.lock || { echo 'make lock: torch resolved to a CUDA build;' \
	  'rerun with TORCH_INDEX=https://download.pytorch.org/whl/cpu' >&2; exit 1; }

$(TOOLS)/bin/pip-compile:
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet $(PIP_TOOLS)

# The documentation site (_docs/, open _docs/index.html): the library notebooks and their API reference, rendered
# by nbdev_docs with quarto from PyPI (its install downloads quarto's binary from GitHub).
docs: setup $(TOOLS)/bin/quarto
	PATH="$(CURDIR)/$(TOOLS)/bin:$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbdev_docs

# --no-deps: the package is a wrapper that runs the binary, and quarto executes no notebook here (nbdev did).
$(TOOLS)/bin/quarto:
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --no-deps $(QUARTO_CLI) || { echo 'make docs: could not install $(QUARTO_CLI);' \
	  'put a quarto binary at $(TOOLS)/bin/quarto (see README)' >&2; exit 1; }

# Developer helpers: export notebooks to big_mood/, strip outputs, open JupyterLab.
export: setup
	$(BIN)/nbdev_export
clean-nbs: setup
	$(BIN)/nbdev_clean
lab: setup
	$(BIN)/jupyter lab

# Optional: PAT against the same architecture in Keras (bench/pat_vs_keras.py). TensorFlow goes into its own
# environment, .venv-keras beside .venv, never into .venv. BENCH_ARGS=--quick for the 5-minute version.
.PHONY: bench-keras
bench-keras: setup
	test -f .venv-keras/.installed -a .venv-keras/.installed -nt requirements-keras.txt || { \
	  test -x .venv-keras/bin/python || $(PYTHON) -m venv .venv-keras; \
	  echo '*' > .venv-keras/.gitignore; \
	  .venv-keras/bin/pip install --quiet -r requirements-keras.txt && touch .venv-keras/.installed; }
	TQDM_DISABLE=1 $(BIN)/python bench/pat_vs_keras.py $(BENCH_ARGS)
