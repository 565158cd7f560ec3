#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
#   .ci/pg.sh start DIR   create a cluster in DIR, start it on a free port on
#                         127.0.0.1, create database authz_test, and print one
#                         line on stdout: the connection URL.
#   .ci/pg.sh stop DIR    stop the cluster (immediate) and remove DIR.
#                         Idempotent: a missing DIR or stopped server is fine.
#
# Everything except the URL goes to stderr. As root, initdb/pg_ctl run as the
# `postgres` OS user (they refuse to run as root); otherwise as the current
# user. The database superuser is always `postgres`, auth is trust.
#
# Environment:
#   PGBIN        directory holding initdb/pg_ctl/postgres (auto-detected)
#   PG_OS_USER   OS user to run the server as when root (default: postgres)
set -euo pipefail

PG_OS_USER=${PG_OS_USER:-postgres}
DBNAME=authz_test
MARKER=.authz-throwaway-cluster

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
}

find_pgbin() {
	if [[ -n ${PGBIN:-} ]]; then
		[[ -x $PGBIN/pg_ctl ]] || die "PGBIN=$PGBIN has no pg_ctl"
		return
	fi
	local d
	if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
		PGBIN=/usr/lib/postgresql/15/bin
		return
	fi
	# Highest installed Debian-style version.
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5 -V -r); do
		if [[ -x $d/pg_ctl ]]; then
			PGBIN=$d
			return
		fi
	done
	if command -v pg_ctl >/dev/null 2>&1; then
		PGBIN=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
		return
	fi
	die "cannot find PostgreSQL server binaries (pg_ctl); set PGBIN"
}

find_psql() {
	if [[ -x $PGBIN/psql ]]; then
		PSQL=$PGBIN/psql
	elif command -v psql >/dev/null 2>&1; then
		PSQL=$(command -v psql)
	else
		die "cannot find psql"
	fi
}

# as_pg CMD...: run a command as the cluster owner. As root that is
# $PG_OS_USER; otherwise it is the current user. Runs from / so that a cwd the
# postgres user cannot read (e.g. /root/...) does not trip initdb/pg_ctl.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u "$PG_OS_USER" -- "$@")
		else
			local q
			q=$(printf '%q ' "$@")
			(cd / && su "$PG_OS_USER" -s /bin/sh -c "$q")
		fi
	else
		(cd / && "$@")
	fi
}

# port_in_use PORT: true if anything is bound to / listening on the port.
port_in_use() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		# Any TCP socket using this local port (listening or not).
		if [[ -n $(ss -Htan "sport = :$port" 2>/dev/null) ]]; then
			return 0
		fi
	fi
	# Fallback / extra check: can we connect to it?
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		return 0
	fi
	return 1
}

# pick_port: print a free port, trying sequentially from a random start in
# 15000..31999 (below Linux's default ephemeral range 32768-60999).
pick_port() {
	local start=$((15000 + (RANDOM * 32768 + RANDOM) % 17000)) i port
	for ((i = 0; i < 500; i++)); do
		port=$((15000 + (start - 15000 + i) % 17000))
		if ! port_in_use "$port"; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

abspath() {
	# DIR must exist.
	(cd "$1" && pwd -P)
}

dump_log() {
	local dir=$1
	if [[ -f $dir/log ]]; then
		log "----- server log ($dir/log) -----"
		cat "$dir/log" >&2 || true
		log "----- end of server log -----"
	fi
}

# pg_running DIR: true if a postmaster for DIR is alive.
pg_running() {
	local dir=$1 pid
	[[ -f $dir/postmaster.pid ]] || return 1
	pid=$(head -n1 "$dir/postmaster.pid" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null
}

stop_server() {
	local dir=$1 pid i
	[[ -f $dir/postmaster.pid ]] || return 0
	find_pgbin
	as_pg "$PGBIN/pg_ctl" -D "$dir" -m immediate -w -t 60 stop >&2 || true
	# pg_ctl failed or timed out: kill the postmaster ourselves, but only if
	# its pid still belongs to a postgres process for this data directory.
	if pg_running "$dir"; then
		pid=$(head -n1 "$dir/postmaster.pid")
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"; then
			log "pg_ctl stop did not stop pid $pid; sending SIGQUIT"
			kill -QUIT "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$pid" 2>/dev/null; then
				log "sending SIGKILL to pid $pid"
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
	fi
}

cmd_start() {
	local dir=$1 port url attempt ok=0
	find_pgbin
	find_psql

	mkdir -p "$dir"
	dir=$(abspath "$dir")
	if [[ -n $(ls -A "$dir") ]]; then
		die "$dir is not empty"
	fi
	chmod 700 "$dir"
	if [[ $(id -u) -eq 0 ]]; then
		id "$PG_OS_USER" >/dev/null 2>&1 || die "OS user $PG_OS_USER does not exist"
		chown "$PG_OS_USER:" "$dir"
		if ! as_pg test -w "$dir" -a -x "$dir"; then
			die "$dir is not writable by $PG_OS_USER (is a parent directory closed to it?)"
		fi
	fi
	# Unix socket path limit is ~107 bytes: "$dir/.s.PGSQL.NNNNN".
	if ((${#dir} > 90)); then
		die "data directory path too long for a unix socket: $dir"
	fi

	log "initdb in $dir ($PGBIN)"
	if ! as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 \
		--locale=C --no-sync --no-instructions >&2; then
		die "initdb failed"
	fi
	as_pg touch "$dir/$MARKER"

	for attempt in 1 2 3 4 5; do
		port=$(pick_port) || die "no free TCP port found"
		log "starting server on 127.0.0.1:$port (attempt $attempt)"
		if as_pg "$PGBIN/pg_ctl" -w -t 120 -D "$dir" \
			-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			-l "$dir/log" start >&2; then
			ok=1
			break
		fi
		stop_server "$dir"
		# Retry only if another process grabbed the port in between.
		if ! grep -q 'could not bind\|Address already in use' "$dir/log" 2>/dev/null; then
			break
		fi
		log "port $port was taken; retrying"
	done
	if ((ok == 0)); then
		dump_log "$dir"
		die "could not start PostgreSQL in $dir"
	fi

	if ! "$PSQL" -X -q -v ON_ERROR_STOP=1 \
		"host=127.0.0.1 port=$port user=postgres dbname=postgres sslmode=disable connect_timeout=10" \
		-c "CREATE DATABASE $DBNAME" >&2; then
		dump_log "$dir"
		stop_server "$dir"
		die "could not create database $DBNAME"
	fi

	url="postgres://postgres@127.0.0.1:$port/$DBNAME?sslmode=disable"
	log "ready: $url"
	echo "$url"
}

cmd_stop() {
	local dir=$1
	if [[ ! -e $dir ]]; then
		return 0
	fi
	[[ -d $dir ]] || die "$dir is not a directory"
	dir=$(abspath "$dir")
	stop_server "$dir"
	# Only remove what looks like a cluster (or an empty dir left by a failed
	# start), never an arbitrary directory passed by mistake.
	if [[ -f $dir/PG_VERSION || -f $dir/$MARKER || -z $(find "$dir" -mindepth 1 -maxdepth 1 ! -name log -print -quit) ]]; then
		rm -rf -- "$dir"
	else
		die "refusing to remove $dir: it does not look like a throwaway cluster"
	fi
	log "stopped and removed $dir"
}

[[ $# -eq 2 ]] || usage
[[ -n $2 ]] || usage
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
*) usage ;;
esac
