#!/bin/sh
# Builds the push daemon's libFuzzer targets with clang into build/fuzz/:
#
#   tests/fuzz/build.sh && build/fuzz/fuzz-tcp-frame -max_total_time=60
set -eu
cd "$(dirname "$0")/../.."
mkdir -p build/fuzz
flags="-std=c11 -D_GNU_SOURCE -g -O1 -Icommon -fsanitize=fuzzer,address,undefined"
clang $flags -o build/fuzz/fuzz-tcp-frame tests/fuzz/fuzz-tcp-frame.c \
    push_daemon/frame-tcp.c
clang $flags -o build/fuzz/fuzz-fcgi-record tests/fuzz/fuzz-fcgi-record.c \
    push_daemon/fcgi-client.c
