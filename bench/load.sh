#!/usr/bin/env bash
# Load test of the token endpoint against two references measured in the
# same run, on loopback, the server pinned to one core and wrk to the other.
#
#   bench/load.sh                          # 10 clients, throughput table
#   CLIENTS=1000000 bench/load.sh          # 1M registered clients
#   ORGS=10000 CLIENTS=1000000 bench/load.sh   # ... of 10,000 organizations
#   MODE=memory bench/load.sh              # >= 1,000,000 tokens, RSS sampled
#   PROFILE=1 bench/load.sh                # + a CPU profile of the token endpoint
#
# Endpoints (all served by one `authz serve`, built with -tags authzbench,
# on one listener, all through Echo):
#   fixed  /bench/fixed   a fixed token response (HTTP + Echo + JSON floor)
#   sign   /bench/sign    the same response around a JWT minted per request
#                         with the same Keyring, key and claims
#   token  /oauth2/token  the production endpoint (web.Server, SQLite, ES256,
#                         every policy check, request log at info)
# wrk sends the same requests (bench/token.lua: a form POST with Basic
# auth, rotating over seeded clients) to all three. Besides, on request
# (ENDPOINTS), the token endpoint with the other client authentications:
#   token-pkjwt        private_key_jwt: an ES256 client assertion per request,
#                      rotating over KEY_CLIENTS clients sharing one key
#   token-pkjwt-rs256  the same with RS256 (RSA 2048) assertions
#   token-dpop         Basic auth as token, and a DPoP proof (ES256) per
#                      request: DPoP-bound tokens
# Their requests can be used once only, and wrk cannot sign: before each
# measured run (after the quiet wait, before the warmup), `authz
# bench-requests`, pinned to wrk's core, signs enough of them for the warmup
# and the run into files that bench/token.lua (REQUESTS mode) sends once
# each. A run that runs out of them fails, as a non-2xx answer does.
#
# Settings (environment):
#   CLIENTS=10        clients to register (the bulk path is ~2,500/s)
#   ORGS=1            organizations they are spread over (bench-seed --orgs)
#   MODE=throughput   or memory
#   ROUNDS=3          throughput: rounds of fixed, sign, token; the table
#                     shows each metric's median over the rounds
#   DURATION=20s      each measured run; WARMUP=5s before each
#   CONNS=32 THREADS=2
#   TOKENS=1000000    memory mode: tokens to issue; RSS_EVERY=5 seconds
#   PROFILE=0         1: profile the token endpoint for PROFILE_SECONDS=20,
#                     then trace it for 3 s (trace.out, summarised by
#                     bench/tracestat into trace-stat.txt)
#   PROFILE_ENDPOINTS=token   which endpoints PROFILE=1 profiles, one after
#                     the other: cpu.pprof for token, cpu-sign.pprof, ...
#                     (a token-* endpoint must be in ENDPOINTS too: its
#                     requests are signed for its measured rate)
#   SEED_DIR=         reuse a seeded database kept here (seeded there when
#                     empty); each run works on a fresh copy in a temp dir
#   SERVER_CPU=0 LOAD_CPU=1
#   LOG_LEVEL=info    the server's, as production (one line per request)
#   MAX_SECONDS=3600  the script stops itself after this long
#   OUT=bench/out/<time>-<mode>-<clients>   where results are kept
#   STRICT=0          1: exit 1 when a target is missed (non-2xx always fail)
#   ENDPOINTS="fixed sign token"  which endpoints the throughput rounds run,
#                     in this order in each round (also: token-pkjwt,
#                     token-pkjwt-rs256, token-dpop)
#   KEY_CLIENTS=10    private_key_jwt clients per algorithm (seeded only when
#                     ENDPOINTS has a token-pkjwt endpoint)
#   PROOF_RATE=       requests/s to sign for, per second of warmup and run;
#                     default: 1.3 x the endpoint's best run so far, else
#                     0.5 x token's (each signed request costs the server
#                     three times a token's), 0.5 x sign's, else 5000; a
#                     run that runs out is repeated signing for twice as
#                     many (with PROOF_RATE set, it fails). DPoP proofs
#                     are fresh for 60 s from signing, so WARMUP + DURATION
#                     may be at most 45 s with token-dpop; assertions for
#                     5 minutes (at most 240 s). RSA signing takes about
#                     1 ms a request on one core: lower PROOF_RATE or
#                     DURATION for token-pkjwt-rs256
#   GENCHECK=1        0: skip the load generator check
#   CREDS_COUNT=1000  seeded clients (spread over all) wrk rotates over
#   SERVER_FLAGS=     extra authz serve flags (e.g. --usage-flush 1h); the
#                     server also inherits the environment (GOGC, ...)
#   QUIET_MAX=10 QUIET_WAIT=300 NOISY_MAX=10 RETRIES=3: see quiet and measure
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLIENTS=${CLIENTS:-10}
ORGS=${ORGS:-1}
MODE=${MODE:-throughput}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
TOKENS=${TOKENS:-1000000}
RSS_EVERY=${RSS_EVERY:-5}
CHUNK=${CHUNK:-30s}
PROFILE=${PROFILE:-0}
PROFILE_SECONDS=${PROFILE_SECONDS:-20}
PROFILE_ENDPOINTS=${PROFILE_ENDPOINTS:-token}
SEED_DIR=${SEED_DIR:-}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
LOG_LEVEL=${LOG_LEVEL:-info}
MAX_SECONDS=${MAX_SECONDS:-3600}
STRICT=${STRICT:-0}
ENDPOINTS=${ENDPOINTS:-fixed sign token}
GENCHECK=${GENCHECK:-1}
KEY_CLIENTS=${KEY_CLIENTS:-10}
PROOF_RATE=${PROOF_RATE:-}
SERVER_FLAGS=${SERVER_FLAGS:-}
CREDS_COUNT=${CREDS_COUNT:-1000}
OUT=${OUT:-$ROOT/bench/out/$(date +%Y%m%d-%H%M%S)-$MODE-$CLIENTS}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

say() { printf '%s\n' "$*" >&2; }
die() { say "load.sh: $*"; exit 1; }

case $MODE in throughput | memory) ;; *) die "MODE=$MODE: want throughput or memory" ;; esac
[[ $CLIENTS =~ ^[0-9]+$ && $CLIENTS -ge 1 ]] || die "CLIENTS=$CLIENTS: want a positive integer"
[[ $ORGS =~ ^[0-9]+$ && $ORGS -ge 1 && $ORGS -le $CLIENTS ]] || die "ORGS=$ORGS: want a positive integer, at most CLIENTS"
command -v taskset >/dev/null || die "taskset (util-linux) is required"

seconds() { # 20s, 2m, 90 -> seconds
	local d=$1
	case $d in *m) echo $((${d%m} * 60)) ;; *s) echo "${d%s}" ;; *) echo "$d" ;; esac
}

# Endpoints whose requests are signed per request (see above), and the
# longest WARMUP + DURATION their signatures stay fresh for.
KEYS=0
for ep in $ENDPOINTS; do
	case $ep in
	fixed | sign | token) ;;
	token-pkjwt | token-pkjwt-rs256)
		KEYS=1
		[[ $(($(seconds "$WARMUP") + $(seconds "$DURATION"))) -le 240 ]] || die "$ep: client assertions live 5 minutes from signing: WARMUP + DURATION must be at most 240s"
		;;
	token-dpop)
		[[ $(($(seconds "$WARMUP") + $(seconds "$DURATION"))) -le 45 ]] || die "token-dpop: DPoP proofs are fresh for 60s from signing: WARMUP + DURATION must be at most 45s"
		;;
	*) die "ENDPOINTS: unknown endpoint $ep (fixed sign token token-pkjwt token-pkjwt-rs256 token-dpop)" ;;
	esac
done
[[ $(nproc --all) -ge 2 ]] || die "two cores are needed: one for the server, one for wrk"

if ! command -v wrk >/dev/null; then
	say "installing wrk (Debian package)"
	if [[ $(id -u) -eq 0 ]]; then
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null
	else
		sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
	fi
fi

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/authz-load.XXXXXX)
SERVER_PID=
WATCHDOG_PID=
cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	[[ -f $WORK/server.log ]] && tail -n 200 "$WORK/server.log" >"$OUT/server-log-tail.jsonl" 2>/dev/null || true
	if [[ -n $WATCHDOG_PID ]]; then
		pkill -TERM -P "$WATCHDOG_PID" 2>/dev/null || true
		kill "$WATCHDOG_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'say "load.sh: interrupted"; exit 130' INT TERM
# The script stops itself: after MAX_SECONDS the watchdog sends TERM.
exec 3>&2
(sleep "$MAX_SECONDS" && echo "load.sh: MAX_SECONDS=$MAX_SECONDS reached, stopping" >&3 && kill -TERM $$) 2>/dev/null &
WATCHDOG_PID=$!
disown "$WATCHDOG_PID"

# --- build and seed ---------------------------------------------------------
BIN=$WORK/authz-bench
(cd "$ROOT" && "$GO" build -tags authzbench -o "$BIN" ./cmd/authz)
mkdir -p "$WORK/db"
SEED_NOTE=
seed_into() { # dir
	local dir=$1 t0 t1
	t0=$(date +%s.%N)
	local keys=()
	[[ $KEYS == 1 ]] && keys=(--key-clients "$KEY_CLIENTS" --keys-dir "$dir/keys")
	"$BIN" bench-seed --db "sqlite:$dir/authz.db" --clients "$CLIENTS" --orgs "$ORGS" \
		--creds-file "$dir/creds.txt" --creds-count "$CREDS_COUNT" "${keys[@]}" | tee "$OUT/seed.txt" >&2
	t1=$(date +%s.%N)
	SEED_NOTE=$(awk -v a="$t0" -v b="$t1" -v n="$CLIENTS" -v o="$ORGS" 'BEGIN { printf "seeded %d clients of %d organizations in %.1f s (%.0f clients/s)", n, o, b - a, n / (b - a) }')
}
if [[ -n $SEED_DIR && -f $SEED_DIR/authz.db && -f $SEED_DIR/creds.txt ]]; then
	have=$(cat "$SEED_DIR/clients" 2>/dev/null || echo "?")
	[[ $have == "$CLIENTS" ]] || die "SEED_DIR=$SEED_DIR holds $have clients, not CLIENTS=$CLIENTS"
	have=$(cat "$SEED_DIR/orgs" 2>/dev/null || echo 1)
	[[ $have == "$ORGS" ]] || die "SEED_DIR=$SEED_DIR holds $have organizations, not ORGS=$ORGS"
	cp "$SEED_DIR/authz.db" "$SEED_DIR/authz.key" "$SEED_DIR/creds.txt" "$WORK/db/"
	if [[ $KEYS == 1 ]]; then
		[[ -d $SEED_DIR/keys ]] || die "SEED_DIR=$SEED_DIR was seeded without private_key_jwt clients: seed a new one for token-pkjwt"
		cp -r "$SEED_DIR/keys" "$WORK/db/"
	fi
	SEED_NOTE="database with $CLIENTS clients copied from $SEED_DIR ($(cat "$SEED_DIR/seed-note" 2>/dev/null || echo "seeding time not recorded"))"
else
	seed_into "$WORK/db"
	if [[ -n $SEED_DIR ]]; then
		mkdir -p "$SEED_DIR"
		cp "$WORK/db/authz.db" "$WORK/db/authz.key" "$WORK/db/creds.txt" "$SEED_DIR/"
		[[ $KEYS == 1 ]] && cp -r "$WORK/db/keys" "$SEED_DIR/"
		echo "$CLIENTS" >"$SEED_DIR/clients"
		echo "$ORGS" >"$SEED_DIR/orgs"
		echo "$SEED_NOTE" >"$SEED_DIR/seed-note"
	fi
fi
say "$SEED_NOTE"
export CREDS=$WORK/db/creds.txt
DB_SIZE=$(du -h "$WORK/db/authz.db" | cut -f1)

# --- server -----------------------------------------------------------------
pprof_env=()
[[ $PROFILE == 1 ]] && pprof_env=(AUTHZ_BENCH_PPROF=127.0.0.1:0)
# authz serve itself, with its defaults, but for --rate-limit: all the load
# comes from 127.0.0.1 (the limiter still runs on every request).
env "${pprof_env[@]}" taskset -c "$SERVER_CPU" "$BIN" serve --db "sqlite:$WORK/db/authz.db" --addr 127.0.0.1:0 \
	--rate-limit 1e9 --log-level "$LOG_LEVEL" --oauth-log-level "$LOG_LEVEL" \
	$SERVER_FLAGS >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
log_field() { # message field: the field of the server's first log line with that message
	sed -n "s/.*\"msg\":\"$1\".*\"$2\":\"\([^\"]*\)\".*/\1/p" "$WORK/server.log" | head -n1
}
ADDR=
for _ in $(seq 300); do
	ADDR=$(log_field "authz listening" addr)
	[[ -n $ADDR ]] && break
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" "$WORK/server.out" >&2; die "the server exited"; }
	sleep 0.2
done
[[ -n $ADDR ]] || die "the server did not start within 60s"
[[ $ADDR == 127.0.0.1:* ]] || die "not a loopback address: $ADDR"
PPROF_ADDR=$(log_field "bench: pprof listening" addr)
ISSUER=$(log_field "authz listening" issuer)
BASE=http://$ADDR
say "server pid $SERVER_PID on $ADDR (cpu $SERVER_CPU), wrk on cpu $LOAD_CPU, $CONNS connections"

# Startup work (the reminders job's first scan of every client) must not
# overlap a measurement: wait, up to 5 minutes, for a second in which the
# idle server uses under 5% of its core.
t_idle=$(date +%s)
for _ in $(seq 300); do
	a=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
	sleep 1
	b=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
	[[ $((b - a)) -le 5 ]] && break
done
STARTUP_NOTE="server idle $(($(date +%s) - t_idle))s after start"
say "$STARTUP_NOTE"

CLK_TCK=$(getconf CLK_TCK)
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status"; }
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
cpu_ticks() { # cpuN -> "busy total steal" ticks from /proc/stat; busy includes steal
	awk -v c="$1" '$1 == c { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6, $9 }' /proc/stat
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

children_cpu_s() { # CPU seconds of this shell's finished children (wrk), into CHILD_CPU
	times >"$WORK/times" # in this shell: a $(...) subshell would report its own children
	CHILD_CPU=$(tail -n1 "$WORK/times" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } printf "%.2f", t }')
}

# run_wrk NAME PATH SCRIPT DURATION: one wrk run. Sets R_* from its RESULT
# line, and CPU use in % of one core: the server's (R_server_cpu), other
# processes' on the server's core (R_other_cpu; it includes R_steal_cpu, the
# time the VM's host took from that core), wrk's (R_wrk_cpu) and other
# processes' on wrk's core (R_other_load_cpu).
run_wrk() {
	local name=$1 path=$2 script=$3 dur=$4 out s0 s1 c0 c1 l0 l1 w0 w1 t0 t1 line kv
	out=$OUT/wrk-$name.txt
	s0=$(proc_ticks "$SERVER_PID")
	c0=$(cpu_ticks "cpu$SERVER_CPU")
	l0=$(cpu_ticks "cpu$LOAD_CPU")
	children_cpu_s
	w0=$CHILD_CPU
	REQUESTS=$REQUESTS timeout $(($(seconds "$dur") + 60)) taskset -c "$LOAD_CPU" \
		wrk -t"$THREADS" -c"$CONNS" -d"$dur" --latency --timeout 10s -s "$script" "$BASE$path" >"$out" 2>&1 ||
		die "wrk failed: $(tail -n 5 "$out")"
	children_cpu_s
	w1=$CHILD_CPU
	s1=$(proc_ticks "$SERVER_PID")
	c1=$(cpu_ticks "cpu$SERVER_CPU")
	l1=$(cpu_ticks "cpu$LOAD_CPU")
	line=$(sed -n 's/^RESULT //p' "$out")
	[[ -n $line ]] || die "no RESULT line from wrk: $(tail -n 5 "$out")"
	R_exhausted=0
	for kv in $line; do printf -v "R_${kv%%=*}" '%s' "${kv#*=}"; done
	R_steal_cpu=$(awk -v a="$(cut -d' ' -f3 <<<"$c0")" -v b="$(cut -d' ' -f3 <<<"$c1")" -v ct="$(($(cut -d' ' -f2 <<<"$c1") - $(cut -d' ' -f2 <<<"$c0")))" \
		'BEGIN { printf "%.0f", ct ? (b - a) / ct * 100 : 0 }')
	R_cpu_us=$(awk -v s="$((s1 - s0))" -v hz="$CLK_TCK" -v n="$R_requests" 'BEGIN { printf "%.1f", n ? s * 1e6 / hz / n : 0 }')
	read -r R_server_cpu R_other_cpu R_load_cpu R_wrk_cpu R_other_load_cpu < <(awk -v s="$((s1 - s0))" \
		-v cb="$(($(cut -d' ' -f1 <<<"$c1") - $(cut -d' ' -f1 <<<"$c0")))" -v ct="$(($(cut -d' ' -f2 <<<"$c1") - $(cut -d' ' -f2 <<<"$c0")))" \
		-v lb="$(($(cut -d' ' -f1 <<<"$l1") - $(cut -d' ' -f1 <<<"$l0")))" -v lt="$(($(cut -d' ' -f2 <<<"$l1") - $(cut -d' ' -f2 <<<"$l0")))" \
		-v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print (b - a) * 100 }')" -v d="$R_duration_us" \
		'BEGIN { o = (cb - s) / ct * 100; if (o < 0) o = 0; wp = w / (d / 1e6); l = lb / lt * 100; ol = l - wp; if (ol < 0) ol = 0
			printf "%.0f %.0f %.0f %.0f %.0f\n", s / ct * 100, o, l, wp, ol }')
}

# Other sessions share this machine. quiet waits, up to QUIET_WAIT seconds,
# for two consecutive seconds in which processes other than the server use
# less than QUIET_MAX % of one core.
QUIET_MAX=${QUIET_MAX:-10}
QUIET_WAIT=${QUIET_WAIT:-300}
NOISY_MAX=${NOISY_MAX:-10}
RETRIES=${RETRIES:-3}
quiet() {
	local calm=0 a b s0 s1 waited=0
	while [[ $waited -lt $QUIET_WAIT ]]; do
		a=$(cpu_ticks cpu)
		s0=$(proc_ticks "$SERVER_PID")
		sleep 1
		b=$(cpu_ticks cpu)
		s1=$(proc_ticks "$SERVER_PID")
		waited=$((waited + 1))
		if [[ $(((${b%% *} - ${a%% *}) - (s1 - s0))) -lt $QUIET_MAX ]]; then
			calm=$((calm + 1))
			[[ $calm -ge 2 ]] && return 0
		else
			calm=0
		fi
	done
	say "the machine did not become quiet within ${QUIET_WAIT}s; measuring anyway"
}

# measure NAME PATH SCRIPT DURATION: quiet, then $PREPARE when set, then
# run_wrk, repeated (up to RETRIES times) while other processes took more
# than NOISY_MAX % of either core. R_tries says how many runs it took.
measure() {
	R_tries=0
	while :; do
		R_tries=$((R_tries + 1))
		quiet
		[[ -z $PREPARE ]] || $PREPARE || continue
		run_wrk "$@"
		if [[ $R_exhausted -gt 0 ]]; then
			[[ -z $PROOF_RATE ]] || die "$1: wrk ran out of signed requests: raise PROOF_RATE above $PROOF_RATE"
			SIGN_RATE[${1%-r*}]=$(($(rate_hint "${1%-r*}") * 2))
			say "$1: wrk ran out of signed requests; again, signing for ${SIGN_RATE[${1%-r*}]}/s"
			continue
		fi
		if [[ $R_other_cpu -le $NOISY_MAX && $R_other_load_cpu -le $NOISY_MAX ]] || [[ $R_tries -gt $RETRIES ]]; then
			return 0
		fi
		say "$1: other processes took ${R_other_cpu}% of the server's core and ${R_other_load_cpu}% of wrk's; again"
	done
}

REQUESTS=
PREPARE=
declare -A SIGN_RATE
# rate_hint EP: the requests per second to sign for EP (see PROOF_RATE).
rate_hint() {
	local best
	if [[ -n $PROOF_RATE ]]; then
		echo "$PROOF_RATE"
		return
	fi
	if [[ -n ${SIGN_RATE[$1]:-} ]]; then
		echo "${SIGN_RATE[$1]}"
		return
	fi
	for src in "$1 1.3" "token 0.5" "sign 0.5"; do
		set -- $src
		best=$(tr ' ' '\n' <<<"${RPS[$1]:-}" | sort -g | tail -n1)
		[[ -n $best ]] && { awk -v r="$best" -v f="$2" 'BEGIN { printf "%d", r * f }'; return; }
	done
	echo 5000
}
# presign EP NAME: sign the requests of EP for the warmup (NAME-warmup) and
# the run (NAME), on wrk's core, then run the warmup; REQUESTS is left
# naming the run's files.
presign() {
	local ep=$1 name=$2 rate kind fresh now file dur warm_fresh
	rate=$(rate_hint "$ep")
	case $ep in
	token-pkjwt) kind=(--kind private_key_jwt --alg ES256 --keys-dir "$WORK/db/keys") ;;
	token-pkjwt-rs256) kind=(--kind private_key_jwt --alg RS256 --keys-dir "$WORK/db/keys") ;;
	token-dpop) kind=(--kind dpop --creds-file "$CREDS") ;;
	esac
	for file in warmup run; do
		dur=$DURATION
		[[ $file == warmup ]] && dur=$WARMUP
		taskset -c "$LOAD_CPU" "$BIN" bench-requests "${kind[@]}" --issuer "$ISSUER" --split "$THREADS" \
			--count $((rate * $(seconds "$dur") + 1000)) --out "$WORK/requests-$file" >"$WORK/signed-$file.txt" ||
			die "$ep: bench-requests failed"
		warm_fresh=${fresh:-}
		fresh=$(sed -n 's/^fresh-until //p' "$WORK/signed-$file.txt")
		say "$name $file: $(head -n1 "$WORK/signed-$file.txt") (for $rate/s)"
	done
	now=$(date +%s)
	[[ $((now + $(seconds "$WARMUP") + 5)) -le $warm_fresh && $((now + $(seconds "$WARMUP") + $(seconds "$DURATION") + 5)) -le $fresh ]] ||
		die "$ep: signing took too long: the requests would go stale before the run ends (lower PROOF_RATE, WARMUP or DURATION)"
	REQUESTS=$WORK/requests-warmup
	run_wrk "$name-warmup" /oauth2/token "$ROOT/bench/token.lua" "$WARMUP"
	REQUESTS=$WORK/requests-run
	if [[ $R_exhausted -gt 0 ]]; then
		[[ -z $PROOF_RATE ]] || die "$name-warmup: wrk ran out of signed requests: raise PROOF_RATE above $PROOF_RATE"
		SIGN_RATE[$ep]=$((rate * 2))
		say "$name-warmup: wrk ran out of signed requests; again, signing for ${SIGN_RATE[$ep]}/s"
		return 1
	fi
}

ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.3f", a / b }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

MACHINE="$(nproc --all) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), $("$GO" version | cut -d' ' -f3), $( (wrk -v 2>&1 || true) | head -n1 | cut -d' ' -f1-2)"
FAIL=0
MISSED=0

# --- throughput ---------------------------------------------------------------
if [[ $MODE == throughput ]]; then
	declare -A RPS P50 P99 NON2XX ERRS SCPU OCPU STEAL LCPU WCPU OLCPU TRIES CPUUS
	RSS_ROWS=()
	RSS_ROWS+=("after start|$(mb "$(rss_kb)")")
	for round in $(seq "$ROUNDS"); do
		for ep in $ENDPOINTS; do
			case $ep in
			fixed | sign)
				run_wrk "$ep-r$round-warmup" "/bench/$ep" "$ROOT/bench/token.lua" "$WARMUP"
				measure "$ep-r$round" "/bench/$ep" "$ROOT/bench/token.lua" "$DURATION"
				;;
			token)
				run_wrk "$ep-r$round-warmup" /oauth2/token "$ROOT/bench/token.lua" "$WARMUP"
				measure "$ep-r$round" /oauth2/token "$ROOT/bench/token.lua" "$DURATION"
				;;
			*)
				PREPARE="presign $ep $ep-r$round"
				measure "$ep-r$round" /oauth2/token "$ROOT/bench/token.lua" "$DURATION"
				PREPARE= REQUESTS=
				;;
			esac
			RPS[$ep]+="$R_rps "
			P50[$ep]+="$R_p50_us "
			P99[$ep]+="$R_p99_us "
			NON2XX[$ep]=$((${NON2XX[$ep]:-0} + R_non2xx))
			ERRS[$ep]=$((${ERRS[$ep]:-0} + R_errors))
			SCPU[$ep]+="$R_server_cpu "
			OCPU[$ep]+="$R_other_cpu "
			STEAL[$ep]+="$R_steal_cpu "
			LCPU[$ep]+="$R_load_cpu "
			WCPU[$ep]+="$R_wrk_cpu "
			CPUUS[$ep]+="$R_cpu_us "
			OLCPU[$ep]+="$R_other_load_cpu "
			TRIES[$ep]+="$R_tries "
			say "round $round $ep: $R_rps/s, server CPU $R_cpu_us µs/request, p50 $(ms "$R_p50_us") ms p99 $(ms "$R_p99_us") ms non-2xx $R_non2xx; server core: server ${R_server_cpu}%, others ${R_other_cpu}% (host steal ${R_steal_cpu}%); wrk core: wrk ${R_wrk_cpu}%, others ${R_other_load_cpu}% (run $R_tries)"
		done
		RSS_ROWS+=("after round $round|$(mb "$(rss_kb)")")
	done
	# The generator's own ceiling: one static request, wrk's fast path.
	GEN_RPS=0 GEN_LCPU=-
	if [[ $GENCHECK == 1 ]]; then
		measure "generator-check" /bench/fixed "$ROOT/bench/fixed.lua" "$DURATION"
		GEN_RPS=$R_rps GEN_LCPU=$R_load_cpu
	fi

	if [[ $PROFILE == 1 && -n $PPROF_ADDR ]]; then
		cp "$BIN" "$OUT/authz-bench.bin"
		for ep in $PROFILE_ENDPOINTS; do
			case $ep in
			token) path=/oauth2/token sfx= ;;
			sign | fixed) path=/bench/$ep sfx=-$ep ;;
			token-pkjwt | token-pkjwt-rs256 | token-dpop) path=/oauth2/token sfx=-$ep ;;
			*) die "PROFILE_ENDPOINTS: unknown endpoint $ep" ;;
			esac
			say "profiling the $ep endpoint for ${PROFILE_SECONDS}s"
			quiet
			if [[ $ep == token-* ]]; then
				DURATION=$((PROFILE_SECONDS + 10))s presign "$ep" "$ep-profiled" || die "$ep-profiled: wrk ran out of signed requests in the warmup"
			fi
			# The CPU profile, then a 3-second execution trace, under one
			# load run.
			(sleep 3 && curl -sf -o "$OUT/cpu$sfx.pprof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$PROFILE_SECONDS" &&
				curl -sf -o "$OUT/allocs$sfx.pprof" "http://$PPROF_ADDR/debug/pprof/allocs" && sleep 1 &&
				curl -sf -o "$OUT/trace$sfx.out" "http://$PPROF_ADDR/debug/pprof/trace?seconds=3") &
			prof_pid=$!
			run_wrk "$ep-profiled" "$path" "$ROOT/bench/token.lua" "$((PROFILE_SECONDS + 10))s"
			REQUESTS=
			wait "$prof_pid" || say "profile or trace download failed"
			if [[ -s $OUT/trace$sfx.out ]]; then
				(cd "$ROOT/bench/tracestat" && "$GO" run . "$OUT/trace$sfx.out") >"$OUT/trace$sfx-stat.txt" 2>&1 || say "tracestat failed: see $OUT/trace$sfx-stat.txt"
			fi
			if [[ -s $OUT/cpu$sfx.pprof ]]; then
				"$GO" tool pprof -top -nodecount=40 "$BIN" "$OUT/cpu$sfx.pprof" >"$OUT/cpu$sfx-top.txt" 2>/dev/null || true
				"$GO" tool pprof -top -cum -nodecount=80 "$BIN" "$OUT/cpu$sfx.pprof" >"$OUT/cpu$sfx-top-cum.txt" 2>/dev/null || true
				"$GO" tool pprof -sample_index=alloc_space -top -nodecount=30 "$BIN" "$OUT/allocs$sfx.pprof" >"$OUT/allocs$sfx-top.txt" 2>/dev/null || true
			fi
		done
	fi


	for ep in fixed sign token $ENDPOINTS; do
		[[ -n ${RPS[$ep]:-} ]] || { RPS[$ep]=0 P50[$ep]=0 P99[$ep]=0 SCPU[$ep]=0 OCPU[$ep]=0 LCPU[$ep]=0 WCPU[$ep]=0 OLCPU[$ep]=0 CPUUS[$ep]=0 NON2XX[$ep]=0 ERRS[$ep]=0; }
		for m in RPS P50 P99 SCPU OCPU LCPU WCPU OLCPU CPUUS; do
			declare -n arr=$m
			printf -v "MED_${m}_${ep//-/_}" '%s' "$(median <<<"${arr[$ep]}")"
			unset -n arr
		done
	done
	RESULTS=$OUT/results.md
	{
		echo "## authz load test: $CLIENTS clients of $ORGS organizations, $(date -u +%Y-%m-%dT%H:%MZ)"
		echo
		echo "Command: \`ORGS=$ORGS CLIENTS=$CLIENTS${CREDS_COUNT:+ CREDS_COUNT=$CREDS_COUNT} ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP ENDPOINTS=\"$ENDPOINTS\"${PROOF_RATE:+ PROOF_RATE=$PROOF_RATE}${SERVER_FLAGS:+ SERVER_FLAGS='$SERVER_FLAGS'} bench/load.sh\`; wrk -t$THREADS -c$CONNS -d$DURATION --latency (warmup $WARMUP) on cpu $LOAD_CPU, server on cpu $SERVER_CPU (GOMAXPROCS 1), loopback, SQLite, ES256, log level $LOG_LEVEL."
		echo "Machine: $MACHINE. $SEED_NOTE; database $DB_SIZE; $STARTUP_NOTE."
		echo
		echo "Medians of $ROUNDS rounds ($ENDPOINTS interleaved):"
		echo
		echo "| endpoint | tokens/s | p50 ms | p99 ms | non-2xx | tokens/s vs fixed | tokens/s vs sign | tokens/s vs token | p99 vs sign | server CPU µs/request | CPU ratio: sign / this | CPU ratio: token / this | server core: server / others % | wrk core: wrk / others % |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for ep in $ENDPOINTS; do
			v=${ep//-/_}
			r=MED_RPS_$v p50=MED_P50_$v p99=MED_P99_$v sc=MED_SCPU_$v oc=MED_OCPU_$v wc=MED_WCPU_$v olc=MED_OLCPU_$v cu=MED_CPUUS_$v
			printf '| %s | %.0f | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n' "$ep" "${!r}" "$(ms "${!p50}")" "$(ms "${!p99}")" "${NON2XX[$ep]}" \
				"$(ratio "${!r}" "$MED_RPS_fixed")" "$(ratio "${!r}" "$MED_RPS_sign")" "$(ratio "${!r}" "$MED_RPS_token")" "$(ratio "${!p99}" "$MED_P99_sign")" \
				"${!cu}" "$(ratio "$MED_CPUUS_sign" "${!cu}")" "$(ratio "$MED_CPUUS_token" "${!cu}")" "${!sc}" "${!oc}" "${!wc}" "${!olc}"
		done
		echo
		per_round() { # TITLE ARRAY
			local -n a=$2
			printf '%s:' "$1"
			for ep in $ENDPOINTS; do printf ' %s %s|' "$ep" "${a[$ep]:-}"; done
			echo
		}
		per_round "Per round (tokens/s)" RPS
		per_round "Per round (p99 µs)" P99
		per_round "Per round (server CPU µs/request)" CPUUS
		per_round "Per round (host steal on the server's core, %)" STEAL
		echo "The CPU ratio (sign's server CPU per request / this endpoint's) is what the tokens/s ratio would be on a saturated core with no other process: time taken by other processes lowers tokens/s but not CPU per request."
		per_round "Runs needed per measurement (a run is repeated when other processes took > ${NOISY_MAX}% of a core)" TRIES
		echo "Load generator check: one static request (bench/fixed.lua, no Lua per request) on /bench/fixed: $(printf '%.0f' "$GEN_RPS")/s, its core ${GEN_LCPU}% busy."
		echo
		echo "| server RSS | MiB |"
		echo "|---|---:|"
		for row in "${RSS_ROWS[@]}"; do echo "| ${row%%|*} | ${row#*|} |"; done
		echo "| peak (VmHWM) | $(mb "$(hwm_kb)") |"
		echo
		tr=$(ratio "$MED_RPS_token" "$MED_RPS_sign")
		p99ms=$(ms "$MED_P99_token")
		t1=$(awk -v r="$tr" 'BEGIN { print (r >= 0.85) ? "PASS" : "FAIL" }')
		t2=$(awk -v p="$p99ms" 'BEGIN { print (p <= 10) ? "PASS" : "FAIL" }')
		echo "Targets: token tokens/s ≥ 0.85 × sign: $tr, $t1 (by server CPU per request: $(ratio "$MED_CPUUS_sign" "$MED_CPUUS_token")). Token p99 ≤ 10 ms: $p99ms ms, $t2. Token non-2xx: ${NON2XX[token]}, errors: ${ERRS[token]}."
		[[ $t1 == PASS && $t2 == PASS ]] || MISSED=1
		if [[ -s $OUT/cpu-top.txt ]]; then
			echo
			echo "CPU profile of the token endpoint: $OUT/cpu.pprof (top: cpu-top.txt, cumulative: cpu-top-cum.txt, allocations: allocs-top.txt); execution trace: trace.out, summarised in trace-stat.txt."
		fi
	} >"$RESULTS"
	for ep in token $ENDPOINTS; do
		[[ $ep != token* || (${NON2XX[$ep]} -eq 0 && ${ERRS[$ep]} -eq 0) ]] || FAIL=1
	done
	cat "$RESULTS"
fi

# --- memory -----------------------------------------------------------------
if [[ $MODE == memory ]]; then
	run_wrk "warmup" /oauth2/token "$ROOT/bench/token.lua" 10s
	start_rss=$(rss_kb)
	: >"$OUT/rss.tsv"
	t_start=$(date +%s)
	(
		while kill -0 "$SERVER_PID" 2>/dev/null; do
			printf '%s\t%s\n' "$(($(date +%s) - t_start))" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null)" >>"$OUT/rss.tsv"
			sleep "$RSS_EVERY"
		done
	) &
	sampler=$!
	issued=0 non2xx=0 chunks=0
	: >"$OUT/chunks.tsv"
	while [[ $issued -lt $TOKENS ]]; do
		chunks=$((chunks + 1))
		run_wrk "memory-$chunks" /oauth2/token "$ROOT/bench/token.lua" "$CHUNK"
		issued=$((issued + R_requests - R_non2xx))
		non2xx=$((non2xx + R_non2xx + R_errors))
		printf '%s\t%s\t%s\t%s\t%s\n' "$(($(date +%s) - t_start))" "$issued" "$(rss_kb)" "$R_rps" "$R_p99_us" >>"$OUT/chunks.tsv"
		say "chunk $chunks: $issued tokens issued, RSS $(mb "$(rss_kb)") MiB, $R_rps/s, p99 $(ms "$R_p99_us") ms"
	done
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	end_rss=$(rss_kb)
	elapsed=$(($(date +%s) - t_start))
	# Middle: the chunk row where half the tokens had been issued.
	mid=$(awk -F'\t' -v h="$((issued / 2))" '$2 >= h { print $3; exit }' "$OUT/chunks.tsv")
	mid_issued=$(awk -F'\t' -v h="$((issued / 2))" '$2 >= h { print $2; exit }' "$OUT/chunks.tsv")
	max_rss=$(cut -f2 "$OUT/rss.tsv" | sort -n | tail -n1)
	RESULTS=$OUT/results.md
	{
		echo "## authz memory test: $CLIENTS clients, $(date -u +%Y-%m-%dT%H:%MZ)"
		echo
		echo "Command: \`MODE=memory CLIENTS=$CLIENTS TOKENS=$TOKENS bench/load.sh\`; wrk -t$THREADS -c$CONNS in ${CHUNK} chunks on cpu $LOAD_CPU, server on cpu $SERVER_CPU."
		echo "Machine: $MACHINE. $SEED_NOTE."
		echo
		echo "$issued tokens issued in ${elapsed}s ($(awk -v n="$issued" -v s="$elapsed" 'BEGIN { printf "%.0f", n / s }')/s); non-2xx and socket errors: $non2xx. RSS sampled every ${RSS_EVERY}s: $OUT/rss.tsv."
		echo
		echo "| server RSS | tokens issued | MiB |"
		echo "|---|---:|---:|"
		echo "| start (after a 10 s warmup) | 0 | $(mb "$start_rss") |"
		echo "| middle | $mid_issued | $(mb "$mid") |"
		echo "| end | $issued | $(mb "$end_rss") |"
		echo "| max sampled | | $(mb "$max_rss") |"
		echo "| peak (VmHWM) | | $(mb "$(hwm_kb)") |"
		echo
		echo "Growth in the second half: $(awk -v a="$mid" -v b="$end_rss" -v n="$((issued - mid_issued))" 'BEGIN { printf "%.1f MiB over %d tokens (%.1f bytes/token)", (b - a) / 1024, n, (b - a) * 1024 / n }')."
	} >"$RESULTS"
	[[ $non2xx -eq 0 ]] || FAIL=1
	cat "$RESULTS"
fi

say "results in $OUT"
[[ $FAIL -eq 0 ]] || die "the token endpoint answered non-2xx or failed requests"
[[ $STRICT == 1 && $MISSED == 1 ]] && die "a target was missed (STRICT=1)"
exit 0
