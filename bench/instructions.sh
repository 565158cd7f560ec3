#!/usr/bin/env bash
# Instructions per request of the token endpoint and the two references,
# counted by valgrind (callgrind), which a busy or shared machine cannot
# disturb: BenchmarkTokenHTTP (web/bench_test.go) serves each endpoint in
# process through the production handlers; each is run for LOW and HIGH
# iterations and the difference divided by HIGH-LOW, so setup cancels out.
#
#   bash bench/instructions.sh            # LOW=300 HIGH=1500, GOGC=100
#   GOGC=off bash bench/instructions.sh   # without garbage collection
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOW=${LOW:-300}
HIGH=${HIGH:-1500}
GOGC=${GOGC:-100}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
if ! command -v valgrind >/dev/null; then
	echo "installing valgrind (Debian package)" >&2
	if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y -qq valgrind >/dev/null; fi
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && "$GO" test -c -o "$WORK/web.test" ./web)
count() { # endpoint iterations -> instructions of the whole process
	# One thread of Go at a time and no asynchronous preemption: callgrind
	# serializes threads, and preemption signals crash it.
	GOGC=$GOGC GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
		--callgrind-out-file="$WORK/cg.out" "$WORK/web.test" -test.run='^$' \
		-test.bench="TokenHTTP/$1\$" -test.benchtime="${2}x" >"$WORK/log" 2>&1 ||
		{ cat "$WORK/log" >&2; exit 1; }
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/log" | head -n1
}
declare -A per
for ep in fixed sign token; do
	lo=$(count "$ep" "$LOW")
	hi=$(count "$ep" "$HIGH")
	per[$ep]=$(((hi - lo) / (HIGH - LOW)))
	echo "$ep: ${per[$ep]} instructions per request (GOGC=$GOGC)"
done
awk -v s="${per[sign]}" -v t="${per[token]}" 'BEGIN { printf "sign / token, by instructions: %.3f\n", s / t }'
