# Shared set-up for scripts/demo.sh and scripts/test.sh: system packages, the virtualenv, a PostGIS database.
# Sourced, not run. Everything here is idempotent: a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CITYGRID_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
PRIVATE_PG="${CITYGRID_PRIVATE_PGDATA:-/tmp/citygrid-pg-$(id -u)}"
PRIVATE_PORT="${CITYGRID_PRIVATE_PGPORT:-54329}"
LOCAL_PG="${CITYGRID_LOCAL_PG:-postgresql://postgres@127.0.0.1:5432}"  # the local server tried before a private one
APT_UPDATED=""

say() { printf 'citygrid: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# apt_install PKG...: install the Debian packages that are missing (as root), else name the one command to run.
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install them with your package manager"
  is_root || die "missing system packages; run once: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  say "installing ${missing[*]} (apt-get)"
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq >&2; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

ensure_python() {
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "citygrid needs Python >= 3.11"
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
}

# The virtualenv is rebuilt only when pyproject.toml changes.
ensure_venv() {
  ensure_python
  [ -x "$PY" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
  local stamp="$VENV/.citygrid-installed" want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python dependencies into $VENV"
    "$PY" -m pip install -q --upgrade pip >&2
    "$PY" -m pip install -q -e "$ROOT[test]" >&2
    echo "$want" > "$stamp"
  fi
}

# dbcheck URL: prints "<server major version> <postgis available: yes/no> <is local: yes/no>", exit 2 if unreachable.
dbcheck() { "$PY" "$ROOT/scripts/dbcheck.py" "$@"; }

start_private_cluster() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bin" ]; then apt_install postgresql; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"; fi
  local as=()
  if is_root; then as=(runuser -u postgres --); fi
  if [ ! -s "$PRIVATE_PG/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $PRIVATE_PG (port $PRIVATE_PORT)"
    mkdir -p "$PRIVATE_PG"
    if is_root; then chown postgres "$PRIVATE_PG"; fi
    "${as[@]}" "$bin/initdb" -D "$PRIVATE_PG" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! "${as[@]}" "$bin/pg_ctl" -D "$PRIVATE_PG" status >/dev/null 2>&1; then
    "${as[@]}" "$bin/pg_ctl" -D "$PRIVATE_PG" -w -l "$PRIVATE_PG/server.log" \
      -o "-p $PRIVATE_PORT -k $PRIVATE_PG -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  export DATABASE_URL="postgresql://postgres@127.0.0.1:$PRIVATE_PORT/${1:-citygrid}"
}

# ensure_database DBNAME: DATABASE_URL if set, else the local server on 5432, else a private cluster; then PostGIS.
ensure_database() {
  local name="$1" facts
  if [ -z "${DATABASE_URL:-}" ]; then
    if dbcheck "$LOCAL_PG/postgres" >/dev/null 2>&1; then
      export DATABASE_URL="$LOCAL_PG/$name"
    else
      start_private_cluster "$name"
    fi
  fi
  facts="$(dbcheck --create "$DATABASE_URL")" || die "cannot reach the database at $DATABASE_URL"
  set -- $facts
  if [ "$2" = no ]; then
    [ "$3" = yes ] || die "the server at $DATABASE_URL has no PostGIS; install PostGIS 3 there"
    apt_install "postgresql-$1-postgis-3"
  fi
  say "database: $DATABASE_URL"
}
