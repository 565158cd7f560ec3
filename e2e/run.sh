#!/usr/bin/env bash
# Browser tests of the admin console (issue 4).
#
# Builds authz, starts it on a fresh SQLite database in a temp dir with one
# admin, waits for /readyz, runs e2e/ui.test.mjs (node --test, headless
# Chromium through playwright-core) against it, stops the server and exits
# with the tests' status. Screenshots go to e2e/screenshots/.
#
# Needs: go, node >= 20, /usr/bin/chromium (Debian's `chromium`; override
# with CHROMIUM=...), and `npm ci` done in e2e/. .ci/run arranges all three.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/.." && pwd -P)
export PATH="/usr/local/go/bin:$PATH"
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

die() { echo "e2e/run.sh: $*" >&2; exit 1; }
[[ -x $CHROMIUM ]] || die "$CHROMIUM not found: install Debian's chromium package (apt-get install chromium)"
[[ -d $HERE/node_modules/playwright-core ]] || die "playwright-core missing: run 'npm ci' in e2e/"
command -v node >/dev/null || die "node not found"

WORK=$(mktemp -d /tmp/authz-e2e.XXXXXX)
SERVER_PID=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ $rc -ne 0 && -f $WORK/server.log ]]; then
		echo "--- authz server log (last 60 lines)" >&2
		tail -n 60 "$WORK/server.log" >&2 || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "--- e2e: building authz"
(cd "$ROOT" && go build -o "$WORK/authz" ./cmd/authz)

export AUTHZ_DATABASE_URL="sqlite:$WORK/authz.db"
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
"$WORK/authz" migrate >/dev/null
"$WORK/authz" users create --email "$ADMIN_EMAIL" --name "Ada Admin" --role admin \
	--permissions analysis:read,analysis:create,config:read,config:write >/dev/null
printf '%s\n' "$ADMIN_PASSWORD" | "$WORK/authz" users set-password "$ADMIN_EMAIL"
# A second organization the admin owns, with a project besides its
# default one: the switcher and each kind of client (ui.test.mjs).
"$WORK/authz" orgs create --slug acme --name Acme --owner-email "$ADMIN_EMAIL" --owner-name "Ada Admin" >/dev/null
"$WORK/authz" projects create --org acme --slug api --name "Acme API" >/dev/null

echo "--- e2e: starting authz"
# Port 0: the kernel picks a free port; the server logs the address it got.
# A short usage flush lets the tests see "last used" soon after a token.
: >"$WORK/server.log" # exists before the background job opens it
"$WORK/authz" serve --addr 127.0.0.1:0 --usage-flush 200ms >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!

# The server tells no one but its log: poll it, and then /readyz, until a
# deadline generous enough for a loaded machine (SECONDS counts real time,
# whatever each try costs).
WAIT=60
ADDR=""
deadline=$((SECONDS + WAIT))
while :; do
	ADDR=$(sed -n '/"authz listening"/s/.*"addr":"\([^"]*\)".*/\1/p' "$WORK/server.log" | head -n 1)
	[[ -n $ADDR ]] && break
	kill -0 "$SERVER_PID" 2>/dev/null || die "authz serve exited before listening"
	((SECONDS < deadline)) || die "authz serve did not log its address within $WAIT s"
	sleep 0.1
done
BASE_URL="http://$ADDR"

ready() {
	node -e 'fetch(process.argv[1]).then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$BASE_URL/readyz"
}
until ready; do
	kill -0 "$SERVER_PID" 2>/dev/null || die "authz serve exited before it was ready"
	((SECONDS < deadline)) || die "$BASE_URL/readyz did not answer 200 within $WAIT s of the start"
	sleep 0.1
done
echo "authz is ready at $BASE_URL"

echo "--- e2e: browser tests"
mkdir -p "$HERE/screenshots"
set +e
(
	cd "$HERE" &&
		AUTHZ_URL="$BASE_URL" ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
			SCREENSHOT_DIR="$HERE/screenshots" node --test --test-concurrency=1 ui.test.mjs
)
status=$?
set -e
echo "screenshots: $HERE/screenshots"
exit "$status"
