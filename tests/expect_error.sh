#!/usr/bin/env bash
# expect_error.sh REGEX CMD...: passes when CMD exits non-zero, its output matches REGEX (extended,
# case-insensitive) and it did not crash (no signal, no segfault/backtrace). Prints the output either way.
set -u
pattern=$1; shift
out=$("$@" 2>&1); status=$?
printf '%s\n' "$out"
if [ $status -eq 0 ]; then echo "expect_error: command succeeded but an error was expected"; exit 1; fi
if [ $status -gt 128 ]; then echo "expect_error: command died from signal $((status-128))"; exit 1; fi
if printf '%s' "$out" | grep -Eq 'Segmentation|SEGV|signal 11|Caught signal'; then echo "expect_error: crash detected"; exit 1; fi
if ! printf '%s' "$out" | grep -Eiq -- "$pattern"; then echo "expect_error: output does not match /$pattern/"; exit 1; fi
echo "expect_error: ok (exit $status, message matched)"
exit 0
