#!/usr/bin/env bash
# Install everything the tests drive and run every check, on a fresh Debian machine: the
# package with its test tools (into the active virtual environment, or the Python on PATH if
# it accepts pip installs, or else a new .venv), redis-server and chromium from apt when
# missing, the npm packages of the interop tests and the widget build; then the widget-bundle
# check, the JavaScript checks, ruff, and the whole pytest suite.
# Arguments go to pytest: `bash scripts/test.sh -x -k redis`.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
problems=()
apt_packages=()
sudo=()
new_venv=""

# Every prerequisite is checked before anything is installed.
if ! command -v "$python" >/dev/null 2>&1; then
  problems+=("$python not found: install Python 3.10 or later (or set PYTHON=/path/to/python)")
else
  # ok: pip installs go here; venv: make .venv (venv-apt: after apt-get install python3-venv)
  state=$("$python" -c 'import importlib.util as u, pathlib, sys, sysconfig
managed = pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists()
in_venv = sys.prefix != sys.base_prefix
if sys.version_info < (3, 10): print("old")
elif u.find_spec("pip") and (in_venv or not managed): print("ok")
elif in_venv: print("venv-without-pip")
else: print("venv" if u.find_spec("ensurepip") else "venv-apt")')
  case $state in
    old) problems+=("$("$python" -V 2>&1) is too old: iii-live needs Python 3.10 or later") ;;
    venv-without-pip) problems+=("the active virtual environment has no pip: python -m ensurepip") ;;
    venv | venv-apt)
      if [ -x .venv/bin/python ]; then
        python=.venv/bin/python
      else
        new_venv=.venv
        [ "$state" = venv ] || apt_packages+=(python3-venv)
      fi ;;
  esac
fi
if ! command -v node >/dev/null 2>&1; then
  problems+=("node not found: the interop tests and the widget build need Node.js 18 or later (https://nodejs.org)")
elif ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)'; then
  problems+=("node $(node --version) is too old: the interop tests and the widget build need Node.js 18 or later")
fi
command -v npm >/dev/null 2>&1 ||
  problems+=("npm not found: it installs the npm packages the tests use (it comes with Node.js)")
if ! command -v git >/dev/null 2>&1 || ! git rev-parse --git-dir >/dev/null 2>&1; then
  problems+=("not a git checkout (or git not found): the widget-bundle check compares a fresh build with the committed files")
fi
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
if [ ${#apt_packages[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    problems+=("${apt_packages[*]} missing and apt-get not found: install ${apt_packages[*]} with your package manager (the tests run redis-server from PATH and /usr/bin/chromium)")
  elif [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      problems+=("${apt_packages[*]} missing: installing them needs root, and sudo was not found")
    fi
  fi
fi
if [ ${#problems[@]} -gt 0 ]; then
  echo "scripts/test.sh: cannot start; nothing was installed:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi

step() { printf '\n== %s (%ds)\n' "$1" "$SECONDS"; }

if [ ${#apt_packages[@]} -gt 0 ]; then
  step "apt-get install ${apt_packages[*]}"
  ${sudo[@]+"${sudo[@]}"} apt-get update -qq
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

if [ -n "$new_venv" ]; then
  step "$python -m venv $new_venv (this Python takes no pip installs outside a virtual environment)"
  "$python" -m venv "$new_venv"
  python=$new_venv/bin/python
fi

step "pip install -e .[test] ($python)"
"$python" -m pip install --quiet --disable-pip-version-check -e ".[test]"

for dir in tests/interop/node js; do
  step "npm ci --prefix $dir"
  npm ci --silent --no-audit --no-fund --prefix "$dir"
done

step "widget bundle: a fresh build of js/ must equal the committed iii_live/static"
npm run --silent build --prefix js
if [ -n "$(git status --porcelain -- iii_live/static)" ]; then
  echo "iii_live/static differs from a fresh build of js/: run 'npm run build --prefix js' and commit it" >&2
  git status --short -- iii_live/static >&2
  exit 1
fi

step "npm run check (js/)"
npm run --silent --prefix js --if-present check

step "ruff check"
"$python" -m ruff check iii_live tests

step "mypy"
"$python" -m mypy

step "pytest $*"
"$python" -m pytest "$@"
step "all checks passed"
if [ "$python" = .venv/bin/python ]; then
  echo "The package and its test tools are in .venv: '. .venv/bin/activate' to use them."
fi
