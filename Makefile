# One entry point for running, testing and measuring. Every target sets up .venv first when needed.
VENV    := .venv
PY      := $(VENV)/bin/python
SIM     ?= oak-d,oak-d-pro,oak-1,oak-d-lr
HOST    ?= 127.0.0.1
PORT    ?= 8080

.PHONY: run test test-hardware bench bench-api bench-still bench-video bench-middleware bench-soak bench-activation bench-abuse bench-nn bench-events

$(VENV)/.run: setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.run
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.run                ## the service on simulated cameras
	$(VENV)/bin/oak-camera-service --simulate $(SIM) --host $(HOST) --port $(PORT)

# Bytecode caches are written (git ignores them) even where the environment says not to: each worker and each
# service a test starts would otherwise compile the project and rewrite the tests' asserts again.
# Two workers a core: most tests spend much of their time waiting on a camera, a subprocess or a browser.
# Tests are handed out one at a time (--maxschedchunk 1): xdist's first hand-out is otherwise a quarter of each
# worker's share in a row, which put every long test (they come first) on one worker, running alone at the end.
test: $(VENV)/.test              ## the test suite, on every core (pytest-xdist)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n $$(( $$(nproc) * 2 )) --maxschedchunk 1

test-hardware: $(VENV)/.test     ## the API scenario against a real OAK camera (skips when none is attached)
	$(PY) -m pytest -m hardware -rs

bench: bench-api bench-still bench-video bench-middleware bench-soak bench-activation bench-abuse bench-nn bench-events  ## every benchmark; needs wrk (apt-get install wrk)

bench-api: $(VENV)/.test
	$(PY) bench/api.py

bench-still: $(VENV)/.test
	$(PY) bench/still.py

bench-soak: $(VENV)/.test
	$(PY) bench/soak.py

bench-video: $(VENV)/.test
	$(PY) bench/video.py

bench-middleware: $(VENV)/.test
	$(PY) bench/middleware.py

bench-activation: $(VENV)/.test
	$(PY) bench/activation.py

bench-abuse: $(VENV)/.test
	$(PY) bench/abuse.py

bench-nn: $(VENV)/.test
	$(PY) bench/nn.py

bench-events: $(VENV)/.test      ## needs mosquitto (apt-get install mosquitto)
	$(PY) bench/events.py
