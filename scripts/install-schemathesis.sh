#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into a venv of its own (EDDY_ST_VENV, default
# /var/tmp/eddy-st-venv) when missing: the openapi test runs it against a running `eddy run`.
# Idempotent; seconds when installed. Usage: scripts/install-schemathesis.sh
set -euo pipefail

SCHEMATHESIS=4.32.5

venv=${EDDY_ST_VENV:-/var/tmp/eddy-st-venv}
py=$venv/bin/python
if ! "$py" -m pip show schemathesis 2>/dev/null | grep -x "Version: $SCHEMATHESIS" >/dev/null; then
    echo "installing schemathesis $SCHEMATHESIS into $venv" >&2
    [ -x "$py" ] || python3 -m venv "$venv"
    "$py" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS"
fi
echo "$venv/bin/st"
