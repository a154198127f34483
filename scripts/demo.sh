#!/usr/bin/env bash
# One command: set up everything and run the Chancheng demo (map at http://localhost:8000/map).
# Extra arguments go to `citygrid demo`, e.g. --port 8080.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_venv
ensure_database citygrid
export CITYGRID_ENV="${CITYGRID_ENV:-development}"
exec "$VENV/bin/citygrid" demo "$@"
