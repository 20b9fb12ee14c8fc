#!/usr/bin/env bash
# What `make test` needs before pytest: PostgreSQL (TEST_DATABASE_URL), Redis
# (TEST_REDIS_URL), Chromium (CHROMIUM_PATH, default /usr/bin/chromium), faketime
# (for `make test-a-year-ahead`) and, before the virtualenv (VENV) exists, a Python
# (PYTHON) that can create one.
#
# - All there: returns at once (a few milliseconds), changes nothing.
# - On this machine but down: starts PostgreSQL's clusters and a Redis server.
# - Not installed: as root with apt-get, installs them (postgresql, redis-server,
#   chromium, python3-venv); otherwise says what to install. INSTALL_MISSING=no never
#   installs.
# - PostgreSQL missing is always an error: the suite runs on nothing else. Redis or
#   Chromium missing is an error under CI=true, where a skipped test is a failure;
#   elsewhere a warning, and their tests skip (pytest's summary lists them).
set -euo pipefail

database_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/billing_portal}"
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
in_ci=no
case "${CI:-}" in 1 | true | TRUE | True | yes) in_ci=yes ;; esac

# host and port of scheme://[user[:password]@]host[:port][/path]
host_of() {
  local rest="${1#*://}"
  rest="${rest%%/*}"
  rest="${rest##*@}"
  echo "${rest%%:*}"
}
port_of() {
  local rest="${1#*://}"
  rest="${rest%%/*}"
  rest="${rest##*@}"
  if [[ "$rest" == *:* ]]; then echo "${rest##*:}"; else echo "$2"; fi
}

pg_host="$(host_of "$database_url")"
pg_port="$(port_of "$database_url" 5432)"
redis_host="$(host_of "$redis_url")"
redis_port="$(port_of "$redis_url" 6379)"

is_local() { [[ "$1" == 127.* || "$1" == localhost || "$1" == ::1 ]]; }

# /dev/tcp has no connect timeout of its own: a host that drops packets would hang.
tcp_answers() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

postgres_up() {
  if command -v pg_isready >/dev/null; then
    pg_isready -h "$pg_host" -p "$pg_port" -t 2 -q 2>/dev/null
  else
    tcp_answers "$pg_host" "$pg_port"
  fi
}

# Redis answers PING with +PONG; plain bash, so no redis-cli is needed to ask.
redis_up() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && read -r -t 2 reply <&3 &&
      [[ "$reply" == "+PONG"* ]]' "$redis_host" "$redis_port" 2>/dev/null
}

chromium_there() { [[ -x "$chromium" ]]; }
faketime_there() { command -v faketime >/dev/null; }

postgres_installed() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; }
redis_installed() { command -v redis-server >/dev/null; }

# The quick answer on a machine where everything already runs.
if postgres_up && redis_up && chromium_there && faketime_there &&
  [[ -x "${VENV:-.venv}/bin/python" ]]; then
  exit 0
fi

problems=()
warnings=()
problem() { problems+=("$*"); }
# Redis and Chromium: their tests skip without them, which CI=true does not allow.
missing_part() {
  if [[ "$in_ci" == yes ]]; then problems+=("$*"); else warnings+=("$*"); fi
}
may_install=no
if [[ "$(id -u)" == 0 && "${INSTALL_MISSING:-yes}" != no ]] && command -v apt-get >/dev/null; then
  may_install=yes
fi

# -- Install what is missing (one apt-get run) ----------------------------------------
packages=()
if ! postgres_up && is_local "$pg_host" && ! postgres_installed; then packages+=(postgresql); fi
if ! redis_up && is_local "$redis_host" && ! redis_installed; then packages+=(redis-server); fi
if ! chromium_there && [[ "$chromium" == /usr/bin/chromium ]]; then packages+=(chromium); fi
if ! faketime_there; then packages+=(faketime); fi
# `make test` creates the virtualenv next; Debian's Python needs python3-venv for that.
if [[ ! -x "${VENV:-.venv}/bin/python" ]] && ! "${PYTHON:-python3}" -c "import ensurepip" 2>/dev/null; then
  packages+=(python3-venv)
fi
if ((${#packages[@]})) && [[ "$may_install" == yes ]]; then
  echo "Installing ${packages[*]} (apt-get)"
  apt-get update -qq
  # Without an init system (a container) the packages' own start attempts fail; the
  # services are started below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  if [[ " ${packages[*]} " == *" postgresql "* ]]; then
    for version_dir in /usr/lib/postgresql/*; do
      version="${version_dir##*/}"
      [[ -d "/etc/postgresql/$version/main" ]] ||
        pg_createcluster --port "$pg_port" "$version" main >/dev/null
      # The suite connects as postgres over loopback without a password (README, "make
      # test"); only a cluster this script has just installed is opened so.
      sed -i -e '1i host all postgres 127.0.0.1/32 trust' -e '1i host all postgres ::1/128 trust' \
        "/etc/postgresql/$version/main/pg_hba.conf"
      pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
    done
  fi
elif ((${#packages[@]})); then
  echo "Missing: ${packages[*]} (as root: apt-get install ${packages[*]};" \
    "this script installs them when it runs as root)." >&2
fi

# -- PostgreSQL ---------------------------------------------------------------------
started_postgres=no
if ! postgres_up; then
  if ! is_local "$pg_host"; then
    problem "PostgreSQL at $pg_host:$pg_port does not answer; it is not on this machine," \
      "so start it there or set TEST_DATABASE_URL."
  elif ! postgres_installed; then
    problem "PostgreSQL is not installed (apt-get install postgresql)."
  elif [[ "$(id -u)" != 0 ]]; then
    problem "PostgreSQL is installed but does not answer on $pg_host:$pg_port: start it" \
      "(sudo pg_ctlcluster <version> main start, or sudo systemctl start postgresql)."
  else
    echo "Starting PostgreSQL"
    for cluster in /etc/postgresql/*/main; do
      version="$(basename "$(dirname "$cluster")")"
      # "Already running" and a cluster on another port are not errors here; whether
      # ours answers is checked below.
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
    started_postgres=yes
  fi
fi

# -- Redis --------------------------------------------------------------------------
started_redis=no
if ! redis_up; then
  if ! is_local "$redis_host"; then
    missing_part "Redis at $redis_host:$redis_port does not answer; it is not on this" \
      "machine, so start it there or set TEST_REDIS_URL."
  elif ! redis_installed; then
    missing_part "Redis is not installed (apt-get install redis-server)."
  else
    echo "Starting Redis on $redis_host:$redis_port"
    redis-server --daemonize yes --bind "$redis_host" --port "$redis_port" --save "" \
      >/dev/null || true
    started_redis=yes
  fi
fi

# -- Chromium (Debian's; Playwright downloads no browser here) ------------------------
if ! chromium_there; then
  missing_part "Chromium is not at $chromium (apt-get install chromium, or set CHROMIUM_PATH)."
fi

# -- faketime: `make test-a-year-ahead` runs the suite with the clock a year on ---------
if ! faketime_there; then
  if [[ "$in_ci" == yes ]]; then
    problem "faketime is not installed (apt-get install faketime): CI runs make test-a-year-ahead."
  else
    echo "WARNING: faketime is not installed (apt-get install faketime);" \
      "make test-a-year-ahead needs it." >&2
  fi
fi

# -- Wait for what was started ---------------------------------------------------------
for _ in $(seq 1 30); do
  { [[ "$started_postgres" == no ]] || postgres_up; } &&
    { [[ "$started_redis" == no ]] || redis_up; } && break
  sleep 1
done
if [[ "$started_postgres" == yes ]] && ! postgres_up; then
  problem "PostgreSQL did not start on $pg_host:$pg_port."
fi
if [[ "$started_redis" == yes ]] && ! redis_up; then
  missing_part "Redis did not start on $redis_host:$redis_port."
fi

for warning in "${warnings[@]}"; do
  echo "WARNING: $warning Its tests will be skipped." >&2
done
if ((${#problems[@]})); then
  for message in "${problems[@]}"; do echo "ERROR: $message" >&2; done
  if [[ "$in_ci" == yes ]]; then
    echo "(Under CI=true no test may skip because a part is missing.)" >&2
  fi
  exit 1
fi
