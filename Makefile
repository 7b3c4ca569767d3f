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
