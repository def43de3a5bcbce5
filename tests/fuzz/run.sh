#!/bin/sh
# Runs every fuzz target for SECONDS each (default 240), one after the other, and prints how many
# inputs each executed. Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain
# (`cargo +nightly`, or RUSTC_BOOTSTRAP=1 on stable). Generated corpora go to tests/fuzz/corpus/
# (not committed); crashes to tests/fuzz/artifacts/.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-240}
[ $# -gt 0 ] && shift
targets=${*:-"http_head http_response http_body http_lines docker_event docker_inspect docker_list config_parse"}
toolchain=${FUZZ_TOOLCHAIN:-+nightly}
# Safe Rust: no sanitizer (about 3x the executions); -a turns on debug assertions and overflow checks.
flags="-O -a -s none --fuzz-dir tests/fuzz"
cargo $toolchain fuzz build $flags
status=0
for target in $targets; do
    mkdir -p "tests/fuzz/corpus/$target"
    case $target in
        http_head) max_len=16384 ;;
        config_parse|docker_*) max_len=8192 ;;
        *) max_len=4096 ;;
    esac
    log="tests/fuzz/corpus/$target.log"
    if cargo $toolchain fuzz run $flags "$target" "tests/fuzz/corpus/$target" "tests/fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1; then
        verdict=ok
    else
        verdict=FAILED
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "$target: $verdict, ${runs:-?} executions in ${seconds} s (log: $log)"
done
exit $status
