#!/usr/bin/env bash
# Sets up the servers that are programs of their own, so `loadgen --list-targets` shows them:
#   python  python-asyncio, python-uvloop, python-threads, python-gevent: a virtual environment at
#           .venv/ with the pinned packages of python/requirements.txt
#   go      go: Go and its SQLite driver from Debian's packages if missing (as root: `golang-go`,
#           `golang-github-mattn-go-sqlite3-dev`, `libsqlite3-dev`, `gcc`), then the server built
#           into <cargo target folder>/programs/ (honours CARGO_TARGET_DIR; GOPATH mode, so
#           nothing is downloaded)
#   node    node: Node.js (the machine's, or Debian's `nodejs` and `npm` if missing, as root), and
#           its one package, better-sqlite3 (node/package-lock.json), built from source into
#           node/node_modules/ (needs a C++ compiler and make)
# With no argument, all three. Run it again after python/requirements.txt or go/ changes.
# loadgen and echo-server find what it made by themselves; ECHO_BENCH_PYTHON, ECHO_BENCH_GO and
# ECHO_BENCH_NODE name another interpreter or binary.
#
#   scripts/setup.sh [python] [go] [node]
#   PYTHON=python3.12 scripts/setup.sh python   # pick the interpreter (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup.sh: $*" >&2; exit 1; }

# Makes sure command $1 exists, installing Debian package $2 if it is missing.
need_command() {
    command -v "$1" >/dev/null || need_package "$2"
}

# Installs Debian packages "$@" if this is root on a Debian-like system; otherwise says how.
need_package() {
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "setup.sh: installing $*..." >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; } ||
            die "could not install $*; install them yourself (apt-get install $*)"
    else
        die "missing $*; install them (Debian: apt-get install $*)"
    fi
}

setup_python() {
    local python=${PYTHON:-python3}
    command -v "$python" >/dev/null || die "'$python' not found; install Python 3.11 or newer, or set PYTHON"
    # asyncio.to_thread needs 3.9; uvloop.run and the pinned packages need 3.8+; 3.11 is what the
    # README's figures were measured with.
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
        die "$("$python" --version 2>&1) is too old; need Python 3.9 or newer"
    [[ -x .venv/bin/python ]] || "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r python/requirements.txt
    .venv/bin/python -c 'import uvloop, aiofiles, aiosqlite, gevent'
    echo "Python servers ready: $(.venv/bin/python --version) in .venv/ (uvloop, aiofiles, aiosqlite, gevent)"
}

# Cargo's target folder, as Cargo itself resolves it (CARGO_TARGET_DIR, config files).
target_dir() {
    cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# Debian's Go packages live here; GOPATH mode finds them without any module download.
DEBIAN_GOPATH=/usr/share/gocode

setup_go() {
    need_command go golang-go
    need_command gcc gcc
    [[ -d $DEBIAN_GOPATH/src/github.com/mattn/go-sqlite3 && -f /usr/include/sqlite3.h ]] ||
        need_package golang-github-mattn-go-sqlite3-dev libsqlite3-dev
    local out
    out="$(target_dir)/programs"
    mkdir -p "$out"
    # GOPATH mode: the standard library and Debian's packages only, nothing downloaded. The
    # server's SQLite driver is cgo code linked against the system's libsqlite3. -trimpath keeps
    # this machine's paths out of the binaries.
    GO111MODULE=off GOFLAGS= GOPATH=$DEBIAN_GOPATH GOCACHE="$out/go-cache" CGO_ENABLED=1 \
        go build -trimpath -tags libsqlite3 -o "$out/echo-go" ./go/server
    GO111MODULE=off GOFLAGS= GOCACHE="$out/go-cache" go build -trimpath -o "$out/echo-go-minimal" ./go/minimal
    echo "Go server ready: $(go version | cut -d' ' -f3) built into $out/"
}

setup_node() {
    need_command node nodejs
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' ||
        die "Node.js $(node --version) is too old; need 18 or newer (perf_hooks, worker_threads, fs.promises)"
    need_command npm npm
    need_command g++ g++
    need_command make make
    # `npm ci`: exactly the versions of node/package-lock.json. better-sqlite3 compiles its SQLite
    # with node-gyp against the installed Node's headers (a few minutes on two cores), so it is
    # skipped when what is installed already came from this lock file and loads.
    if ! [[ node/node_modules/.package-lock.json -nt node/package-lock.json ]] ||
        ! node -e 'require("./node/node_modules/better-sqlite3")(":memory:")' 2>/dev/null; then
        (cd node && npm ci --no-audit --no-fund --loglevel=error)
    fi
    node -e 'require("./node/node_modules/better-sqlite3")(":memory:")' ||
        die "better-sqlite3 was installed but does not load; see the npm output above"
    echo "Node server ready: node $(node --version), libuv $(node -p process.versions.uv)," \
        "better-sqlite3 $(node -p 'require("./node/node_modules/better-sqlite3/package.json").version')"
}

parts=("$@")
((${#parts[@]})) || parts=(python go node)
for part in "${parts[@]}"; do
    case $part in
        python) setup_python ;;
        go) setup_go ;;
        node) setup_node ;;
        *) die "unknown part '$part'; choose from python, go, node" ;;
    esac
done
