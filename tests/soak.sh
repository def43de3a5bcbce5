#!/bin/sh
# Soak (not part of CI): one-second containers churn on a private Docker engine for DURATION
# seconds (default 1800) while the agent's RSS, open file descriptors and CPU time are recorded
# every 10 s into a CSV file; a summary (min/median/max RSS and descriptors, CPU %) is printed at
# the end, and the churn checks hold (one final sample per container, nothing left tracked).
#
#   DURATION=300 tests/soak.sh
#
# Variables: DURATION (s), CSV (default target/soak-<time>.csv), POLLING (agent polling, s;
# default 1), BURST (containers per burst, one burst every 3 s; default 8), BIN (the agent binary;
# default: the static release binary, built with `make build`).
# Needs what the engine tests need: root, docker.io and busybox-static.
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-1800}
CSV=${CSV:-$PWD/target/soak-$(date +%Y%m%d-%H%M%S).csv}
POLLING=${POLLING:-1}
BURST=${BURST:-8}
if [ -z "${BIN:-}" ]; then
    make build
    BIN=$PWD/target/x86_64-unknown-linux-musl/release/csflowd
fi
mkdir -p "$(dirname "$CSV")"
echo "soak: $DURATION s, agent $BIN, polling $POLLING s, bursts of $BURST; CSV $CSV"
CSFLOWD_STATIC_BIN=$BIN SOAK_DURATION=$DURATION SOAK_CSV=$CSV SOAK_POLLING=$POLLING SOAK_BURST=$BURST \
    cargo test --locked --test churn_docker -- --ignored --exact soak_churn_records_rss_fds_and_cpu \
    --nocapture
echo "soak: record in $CSV"
