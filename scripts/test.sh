#!/usr/bin/env bash
# One command: set up everything and run the whole test suite against a real PostGIS.
# Each run creates throwaway databases on the server and drops them at the end. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
apt_install chromium fonts-noto-cjk
ensure_venv
ensure_database postgres
cd "$ROOT"
# Two workers, each test file whole on one (its module fixtures are built once); `-n 0` runs in one process.
exec "$PY" -m pytest -n "${CITYGRID_TEST_WORKERS:-2}" --dist loadfile "$@"
