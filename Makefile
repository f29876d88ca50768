# The two commands of the README: `make demo` (set up, then run the main job) and `make test` (set up, then test).
# Set-up is idempotent: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The CPU build of PyTorch on machines without a GPU. pip finds a local CPU wheel where the machine provides one
# (find-links); elsewhere, on a CPU-only machine, run `make TORCH_INDEX=https://download.pytorch.org/whl/cpu ...`.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check
DEMO_OUT ?= runs/demo
export PYTHONHASHSEED := 0

.PHONY: install check lint typecheck test test-all demo bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --extra-index-url https://pypi.org/simple)
	$(PIP) install -q -e ".[dev,ray,study,vmas]"
	# marl-eval reads a study's JSON back in the tests; its pins (pandas 1.4, neptune) predate Python 3.11 and
	# the reader needs none of them, so it goes in without its dependencies.
	$(PIP) install -q --no-deps "id-marl-eval==0.0.4" "colorama>=0.4"
	@touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

check: lint typecheck

test: check
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -p no:cacheprovider

# Everything, the slow tests too (long learning checks).
test-all: check
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "slow or not slow"

# MATRL against independent PPO (IL) on Checkers, 100k env steps each (about a minute apiece on 2 cores).
DEMO_STEPS ?= 100000
demo: install
	rm -rf $(DEMO_OUT)/checkers
	$(BIN)/matrl train --env checkers_v0 --algo matrl --total-steps $(DEMO_STEPS) --out $(DEMO_OUT)/checkers/matrl
	$(BIN)/matrl train --env checkers_v0 --algo il --total-steps $(DEMO_STEPS) --out $(DEMO_OUT)/checkers/il
	$(BIN)/matrl plot $(DEMO_OUT)/checkers --out $(DEMO_OUT)/checkers.png

bench: install
	$(BIN)/python benchmarks/nash_solvers.py
	$(BIN)/python benchmarks/matrix_games.py
	$(BIN)/python benchmarks/gridworld_speed.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/mujoco_speed.py
	$(BIN)/python benchmarks/tsr_cost.py
	$(BIN)/python benchmarks/metagame_scale.py
	$(BIN)/python benchmarks/throughput.py --baseline 4d5d971
	$(BIN)/python benchmarks/update_step.py
	$(BIN)/python benchmarks/train_speed.py --envs hopper_3x1 ant_4x2 --iterations 3 --threads 1 2 --env-workers 2 \
		--out docs/benchmarks/train_speed_mujoco.md

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
