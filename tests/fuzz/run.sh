#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) against
# the src/ files each needs, then runs each for N seconds (default 20) from the
# checked-in seed corpus. Usage: tests/fuzz/run.sh [seconds] [target...]
# Needs clang and its fuzzer runtime (Debian: apt-get install -y clang
# libclang-rt-14-dev). Work files (binaries, grown corpus, crash inputs) go to
# $FUZZ_OUT, default build-fuzz/ in the source tree. Exits 1 if a target crashed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)/src
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-response handshake classify track}
out=${FUZZ_OUT:-$here/../../build-fuzz}
cc=${CC_FUZZ:-clang}
mkdir -p "$out"

sources() {
    case $1 in
    response) echo "$src/protocol/response.c $src/protocol/packet.c" ;;
    handshake) echo "$src/protocol/handshake.c $src/protocol/packet.c" ;;
    classify) echo "$src/protocol/sqlmode.c $src/protocol/charset.c" ;; # includes classify.c
    track) echo "$src/protocol/track.c $src/protocol/packet.c" ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
    esac
}

failed=0
for t in $targets; do
    bin=$out/fuzz_$t
    # shellcheck disable=SC2046
    $cc -g -O1 -D_GNU_SOURCE -I"$src" -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        "$here/fuzz_$t.c" $(sources "$t") -o "$bin"
    corpus=$out/corpus_$t
    mkdir -p "$corpus" "$out/crashes_$t"
    cp -n "$here/corpus/$t/"* "$corpus/" 2>/dev/null || true
    echo "== fuzz_$t: ${secs}s"
    if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 \
        -artifact_prefix="$out/crashes_$t/" "$corpus" >"$out/fuzz_$t.log" 2>&1; then
        echo "fuzz_$t FAILED: see $out/fuzz_$t.log and $out/crashes_$t/"
        failed=1
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$out/fuzz_$t.log" || true
done
exit $failed
