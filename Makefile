# The two commands of the README: `make repro` (pipeline) and `make test` (tests).
# Both build the environment in .venv from this repository's own files first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.big_mood-installed

.PHONY: setup test repro export clean-nbs lab

setup: $(STAMP)

# torch==2.13.0 first, on its own: any other pin pulls a multi-GB CUDA build.
$(STAMP): requirements.txt setup.py settings.ini
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: setup
	TQDM_DISABLE=1 DVC_NO_ANALYTICS=1 $(BIN)/python -m pytest

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" DVC_NO_ANALYTICS=1 $(BIN)/dvc repro

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
