#!/usr/bin/env sh
# Builds this plugin into a WebAssembly component, __NAME__.wasm. Needs componentize-py (see
# requirements-dev.txt) in $PYTHON (default python3). `.eddy-sdk` (or EDDY_SDK) names the Eddy
# Python SDK's folder; the WIT contract is found beside it (or give EDDY_WIT).
set -eu
cd "$(dirname "$0")"
sdk=${EDDY_SDK:-$(cat .eddy-sdk)}
PYTHONPATH="$sdk${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-python3}" -m eddy_sdk.build app.py -o "${1:-__NAME__.wasm}"
