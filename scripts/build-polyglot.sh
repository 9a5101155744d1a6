#!/usr/bin/env bash
# Builds the Python and JavaScript example plugins to WebAssembly components:
#   dist/examples/python-{mean,spread,filter,column-filter}.wasm (componentize-py, sdk/python)
#   dist/examples/js-{mean,spread,filter,column-filter}.wasm     (componentize-js, sdk/js)
#   dist/fixtures/python-hostile.wasm              (a test fixture: endless loop, memory bomb)
# Installs the pinned tools when missing: a venv (EDDY_PY_VENV, default /var/tmp/eddy-poly-venv)
# with componentize-py and pytest, and `npm ci` in sdk/js and the JS examples. A component newer
# than its sources is not rebuilt. With --test, also runs the SDKs' and examples' native tests
# (pytest, node --test) and the scaffold templates' tests. Usage: scripts/build-polyglot.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Pinned versions (keep in step with sdk/python/pyproject.toml and sdk/js/package.json).
COMPONENTIZE_PY=0.25.1
PYTEST=8.4.2

venv=${EDDY_PY_VENV:-/var/tmp/eddy-poly-venv}
py=$venv/bin/python
if ! "$py" -m pip show componentize-py 2>/dev/null | grep -qx "Version: $COMPONENTIZE_PY" ||
   ! "$py" -m pip show pytest 2>/dev/null | grep -qx "Version: $PYTEST"; then
    echo "installing componentize-py $COMPONENTIZE_PY and pytest $PYTEST into $venv" >&2
    [ -x "$py" ] || python3 -m venv "$venv"
    "$py" -m pip install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY" "pytest==$PYTEST"
fi

npm_ci() { # installs a package's locked dependencies when missing or older than the lock file
    if [ ! "$1/node_modules/.package-lock.json" -nt "$1/package-lock.json" ]; then
        (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}
npm_ci sdk/js
npm_ci examples/js-mean
npm_ci examples/js-spread
npm_ci examples/js-filter
npm_ci examples/js-column-filter

mkdir -p dist/examples
# fresh OUT SRC...: OUT exists and is newer than every file under SRC (node_modules aside).
fresh() {
    local out=$1
    shift
    [ -f "$out" ] && [ -z "$(find "$@" \( -name node_modules -o -name __pycache__ -o -name .pytest_cache \) -prune -o -type f -newer "$out" -print -quit)" ]
}
for name in python-mean python-spread python-filter python-column-filter; do
    out=dist/examples/$name.wasm
    if fresh "$out" "examples/$name" sdk/python/eddy_sdk wit; then continue; fi
    PYTHONPATH="$root/sdk/python" "$py" -m eddy_sdk.build "examples/$name/app.py" -o "$out"
done
mkdir -p dist/fixtures
for name in python-hostile; do # test fixtures
    out=dist/fixtures/$name.wasm
    if fresh "$out" "tests/fixtures/$name" sdk/python/eddy_sdk wit; then continue; fi
    PYTHONPATH="$root/sdk/python" "$py" -m eddy_sdk.build "tests/fixtures/$name/app.py" -o "$out"
done
for name in js-mean js-spread js-filter js-column-filter; do
    out=dist/examples/$name.wasm
    if fresh "$out" "examples/$name" sdk/js/src sdk/js/bin wit; then continue; fi
    (cd "examples/$name" && node "$root/sdk/js/bin/eddy-js-build.mjs" app.js -o "$root/$out")
done

if [ "${1:-}" = "--test" ]; then
    (cd sdk/python && "$py" -m pytest -q -p no:cacheprovider)
    for name in python-mean python-spread python-filter python-column-filter; do
        (cd "examples/$name" && PYTHONPATH="$root/sdk/python" "$py" -m pytest -q -p no:cacheprovider)
    done
    (cd sdk/js && node --test test/)
    for name in js-mean js-spread js-filter js-column-filter; do (cd "examples/$name" && node --test); done
    # The scaffold templates pass their own tests where they stand.
    for kind in aggregator map filter; do
        (cd "sdk/python/template/$kind" && "$py" -m pytest -q -p no:cacheprovider)
        (cd "sdk/js/template/$kind" && npm install --no-audit --no-fund --no-package-lock \
            --loglevel=error >/dev/null && node --test)
    done
fi
ls -l dist/examples/python-*.wasm dist/examples/js-*.wasm dist/fixtures/python-*.wasm
