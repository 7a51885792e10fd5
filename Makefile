# Two entry points for a fresh machine: `make study` and `make test`.
# Both create .venv, install the project, and install Debian's
# dataset-fashion-mnist (and, for the dashboard tests, chromium) when apt is
# usable (as root, or with sudo).

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export VENV
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME ?= $(CURDIR)/.prefect
export TF_CPP_MIN_LOG_LEVEL ?= 2

APT_PACKAGES := dataset-fashion-mnist chromium

.PHONY: setup system-packages study test server deploy lint clean

setup: $(VENV)/.installed system-packages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# KerasCV's tokenizer vocabulary ships in this wheel; --no-deps keeps
	# PyTorch, which it would pull in, out of the environment.
	$(BIN)/python -m pip install --quiet --no-deps open-clip-torch==3.3.0
	touch $@

system-packages:
	@if [ -d $(FASHION_MNIST_DIR) ] && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES); \
	elif command -v sudo >/dev/null; then \
		sudo apt-get update -qq && sudo apt-get install -y -qq $(APT_PACKAGES); \
	else \
		echo "note: install Debian's $(APT_PACKAGES), or pass --data-dir"; \
	fi

study: setup
	$(BIN)/genlab run --dataset fashion_mnist --profile quick

test: setup
	$(BIN)/python -m pytest -q

# A Prefect server on 127.0.0.1:4200 and the pictures on 127.0.0.1:8765.
server: setup
	scripts/serve.sh

# Deploy prefect.yaml to that server and start a process worker.
deploy: setup
	scripts/deploy.sh

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .prefect
