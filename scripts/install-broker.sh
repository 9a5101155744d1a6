#!/usr/bin/env bash
# Installs the Kafka-protocol broker the integration tests start: tansu 0.6.0 (an Apache Kafka
# API broker in Rust) with in-memory storage (the `dynostore` feature). Once per machine; the
# binary goes to ~/.cargo/bin. About 22 minutes on 2 cores. Usage: scripts/install-broker.sh
set -euo pipefail
if command -v tansu >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/tansu" ]; then
  exit 0
fi
echo "install-broker: building tansu 0.6.0 (once per machine, ~20 min on 2 cores)"
cargo install tansu --version 0.6.0 --locked --features dynostore \
  --target-dir /var/tmp/tansu-target --quiet
