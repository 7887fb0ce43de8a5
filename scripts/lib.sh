# Shared by scripts/up and scripts/test: install what the build needs, when it is missing.
# Idempotent: does nothing when everything is present. Needs root (or sudo) only to install.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (install it by hand, or run as root)"
  fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $*: this is not a Debian-like system; install them by hand"
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    as_root apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
  say "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# cmake and clang (libclang) build llama.cpp for the model runtime; pkg-config and a C compiler
# build the other native pieces.
ensure_build_tools() {
  command -v cargo >/dev/null 2>&1 || die "cargo is missing: install Rust from https://rustup.rs"
  missing=""
  command -v cc >/dev/null 2>&1 || missing="$missing build-essential"
  command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
  command -v clang >/dev/null 2>&1 || missing="$missing clang"
  ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || missing="$missing libclang-dev"
  command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
  [ -z "$missing" ] || apt_install $missing
}

pg_answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

throwaway_pg() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    apt_install postgresql postgresql-client
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_DIR=$(mktemp -d /tmp/juru-pg.XXXXXX)
  local port=55432 run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  say "starting a throwaway PostgreSQL in $PG_DIR on port $port"
  "${run[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust >/dev/null || die "initdb failed"
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || die "pg_ctl start failed: $(cat "$PG_DIR/log")"
  PG_STOP=("${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -m immediate stop)
  trap '"${PG_STOP[@]}" >/dev/null 2>&1; rm -rf "$PG_DIR"' EXIT
  export JURU_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

