#!/usr/bin/env bash
# Install iii-live with everything its tests drive for real: the Python package and its
# test tools, Debian's redis-server and chromium (when missing), and the npm packages of
# the interop tests, the widget build and the benchmark peer.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python -m pip install --quiet --disable-pip-version-check -e ".[test]"
for dir in tests/interop/node js; do
  npm ci --silent --no-audit --no-fund --prefix "$dir"
done
