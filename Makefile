# Two commands do all set-up on a fresh clone: `make study` runs the study, `make test` passes the tests.
# Both read the data root from FER_DATA (e.g. FER_DATA=../shared/data make test).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RESULTS ?= results
# Training recipe of the model notebooks: smoke (minutes), cpu (about an hour per model here), paper (GPU).
PROFILE ?= cpu
# More options of `python -m fer_lib study`, e.g. STUDY_ARGS="--only irnet --force" (see README: --list, --step K).
STUDY_ARGS ?=
# Notebooks run with notebooks/ as working directory: hand them an absolute data root.
ifdef FER_DATA
export FER_DATA := $(abspath $(FER_DATA))
endif

.PHONY: setup study test lab clean-cache

setup: $(STAMP)

# pip, not uv/poetry: torch/torchvision come from this machine's local wheel store, which only pip sees.
$(STAMP): pyproject.toml requirements-lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements-lock.txt -e ".[dev]"
	@# opencv-python-headless and the contrib build share the cv2 package: whichever pip wrote last wins.
	$(PY) -c "import cv2, sys; sys.exit(0 if hasattr(cv2, 'optflow') else 1)" || \
	  $(PY) -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall -c requirements-lock.txt opencv-contrib-python-headless
	touch $(STAMP)

# The manifest's notebooks, the report last; complete runs are skipped, a failed step exits non-zero after the others.
study: $(STAMP)
	@test -n "$$FER_DATA" || { echo "Set FER_DATA to the data root, e.g. FER_DATA=../shared/data make study"; exit 2; }
	$(PY) -m fer_lib study --profile $(PROFILE) --results $(RESULTS) $(STUDY_ARGS)

# pytest exits 5 when it collects no tests; that is not a failure of the code under test.
test: $(STAMP)
	@test -n "$$FER_DATA" || { echo "Set FER_DATA to the data root, e.g. FER_DATA=../shared/data make test"; exit 2; }
	$(PY) -m pytest --nbval-lax tests notebooks; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

# From the repository root: notebooks/ and results/ side by side (each notebook still runs in its own folder).
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=.

clean-cache:
	rm -rf "$${FER_CACHE:-$$HOME/.cache/fer_lib}"
