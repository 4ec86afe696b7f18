#!/usr/bin/env bash
# dev-postgres.sh — give `make run` / `make test` a PostgreSQL URL on a fresh machine.
#
# Usage:
#   scripts/dev-postgres.sh url DBNAME   print (on stdout, one line) a URL for database DBNAME,
#                                        after making sure a server runs and DBNAME exists
#   scripts/dev-postgres.sh stop         stop the private cluster, if this script started one
#
# Resolution order for `url`:
#   1. $DATABASE_URL if set and non-empty: printed unchanged (DBNAME is ignored).
#   2. A local server on 127.0.0.1:${PGPORT_PROBE:-5432} (plus /var/run/postgresql when the
#      probe port is 5432) that role `postgres` or the current OS user can use without a
#      password (trust/peer). DBNAME is created if missing.
#   3. A private throwaway cluster in $REPO/.pgdata/ on 127.0.0.1:${LEDGER_PG_PORT:-54329},
#      trust auth, user postgres (installed with apt-get first when root and binaries missing).
#
# Environment:
#   DATABASE_URL            use this server, do nothing else
#   PGPORT_PROBE            port probed for an existing local server (default 5432);
#                           e.g. PGPORT_PROBE=1 forces the private cluster
#   LEDGER_PG_PORT          port of the private cluster (default 54329)
#   LEDGER_PG_BINDIR_GLOB   where to look for server binaries after $PATH
#                           (default /usr/lib/postgresql/*/bin; highest version wins)
#   LEDGER_PG_NO_INSTALL=1  never run apt-get install
#
# Only the URL goes to stdout; all diagnostics go to stderr, prefixed "dev-postgres: ".
# Safe to run concurrently: provisioning is serialised with flock.
set -euo pipefail
unset CDPATH

# fd 3 = the caller's stdout (reserved for the URL); everything else goes to stderr.
exec 3>&1 1>&2

log() { printf 'dev-postgres: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
emit() { printf '%s\n' "$1" >&3; }
usage() {
	log "usage: scripts/dev-postgres.sh url DBNAME   print a PostgreSQL URL for database DBNAME"
	log "       scripts/dev-postgres.sh stop         stop the private cluster started by this script"
	exit 2
}

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname -- "$SCRIPT_DIR")

PROBE_PORT=${PGPORT_PROBE:-5432}
PRIV_PORT=${LEDGER_PG_PORT:-54329}
BINDIR_GLOB=${LEDGER_PG_BINDIR_GLOB:-/usr/lib/postgresql/*/bin}
NO_INSTALL=${LEDGER_PG_NO_INSTALL:-}
PG_OS_USER=postgres
PG_ROLE=postgres
MIN_MAJOR=13
MY_UID=$(id -u)
MY_USER=$(id -un)

valid_port() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }

short_hash() {
	if command -v sha1sum >/dev/null 2>&1; then
		printf '%s' "$1" | sha1sum | cut -c1-10
	else
		printf '%s' "$1" | cksum | cut -d' ' -f1
	fi
}

TMPBASE=/tmp/ledger-pg-$MY_UID-$(short_hash "$REPO")

# Percent-encode a URL userinfo component.
urlenc() {
	local LC_ALL=C s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) printf -v c '%%%02X' "'$c" && out+=$c ;;
		esac
	done
	printf '%s' "$out"
}

tcp_url() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable' "$(urlenc "$1")" "$2" "$3"; }
sock_url() { printf 'postgres://%s@/%s?host=%s&port=%s&sslmode=disable' "$(urlenc "$1")" "$3" "$4" "$2"; }

# ---------------------------------------------------------------- locking

LOCK_HELD=
take_lock() {
	[[ -n $LOCK_HELD ]] && return 0
	local lockfile=$REPO/.pgdata/.lock
	if mkdir -p "$REPO/.pgdata" 2>/dev/null; then
		[[ -e $REPO/.pgdata/.gitignore ]] || { printf '*\n' >"$REPO/.pgdata/.gitignore"; } 2>/dev/null || true
		[[ -e $lockfile ]] || { : >>"$lockfile"; } 2>/dev/null || true
	fi
	if [[ ! -r $lockfile ]]; then
		lockfile=$TMPBASE.lock
		[[ -e $lockfile ]] || : >>"$lockfile"
		[[ -r $lockfile ]] || die "cannot open lock file $lockfile"
	fi
	# flock works on read-only descriptors too (e.g. a lock file created by another user).
	if [[ -w $lockfile ]]; then
		exec 9>>"$lockfile"
	else
		exec 9<"$lockfile"
	fi
	if command -v flock >/dev/null 2>&1; then
		if ! flock -w 3 9; then
			log "waiting for another dev-postgres.sh run to finish (lock $lockfile)"
			flock -w 900 9 || die "timed out after 900s waiting for lock $lockfile"
		fi
	else
		log "warning: flock not found; concurrent runs are not serialised"
	fi
	LOCK_HELD=1
}

# ---------------------------------------------------------------- probing

# Is something answering as PostgreSQL at host (IP or socket dir) / port?
pg_reachable() {
	local host=$1 port=$2
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h "$host" -p "$port" -t 3 </dev/null >/dev/null 2>&1
		return
	fi
	if [[ $host == /* ]]; then
		[[ -S $host/.s.PGSQL.$port ]]
		return
	fi
	tcp_listening "$host" "$port"
}

tcp_listening() {
	# shellcheck disable=SC2016  # $0/$1 are expanded by the inner bash
	timeout 3 bash -c 'exec 5<>"/dev/tcp/$0/$1"' "$1" "$2" </dev/null >/dev/null 2>&1
}

# Print the `major` version of the initdb in bindir $1.
bindir_major() {
	local v
	v=$("$1/initdb" --version 2>/dev/null) || return 1
	[[ $v =~ \)\ ([0-9]+) ]] || return 1
	printf '%s' "${BASH_REMATCH[1]}"
}

# Candidate bin dirs: the one holding initdb from $PATH, then BINDIR_GLOB, highest version first.
candidate_bindirs() {
	local p d
	for p in initdb pg_ctl; do
		if d=$(command -v "$p" 2>/dev/null) && [[ $d == /* ]]; then
			d=$(readlink -f -- "$d") && printf '%s\n' "$(dirname -- "$d")"
		fi
	done
	local old_nullglob
	old_nullglob=$(shopt -p nullglob || true)
	shopt -s nullglob
	# shellcheck disable=SC2206  # glob expansion is the point
	local dirs=($BINDIR_GLOB)
	eval "$old_nullglob"
	if ((${#dirs[@]})); then
		printf '%s\n' "${dirs[@]}" | sort -rV
	fi
	return 0
}

# find_server_bindir [wanted_major] -> sets PG_BINDIR, PG_MAJOR.
PG_BINDIR='' PG_MAJOR=''
find_server_bindir() {
	local wanted=${1:-} d m best='' best_m=''
	while IFS= read -r d; do
		[[ -n $d && -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
		m=$(bindir_major "$d") || continue
		((m >= MIN_MAJOR)) || {
			log "ignoring PostgreSQL $m in $d (need $MIN_MAJOR or newer)"
			continue
		}
		if [[ -n $wanted ]]; then
			if [[ $m == "$wanted" ]]; then
				best=$d best_m=$m
				break
			fi
			[[ -n $best ]] || { best=$d best_m=$m; }
		else
			best=$d best_m=$m
			break
		fi
	done < <(candidate_bindirs | awk '!seen[$0]++')
	[[ -n $best ]] || return 1
	PG_BINDIR=$best PG_MAJOR=$best_m
}

# psql: from PG_BINDIR if known, else $PATH, else BINDIR_GLOB.
find_psql() {
	if [[ -n $PG_BINDIR && -x $PG_BINDIR/psql ]]; then
		printf '%s' "$PG_BINDIR/psql"
		return 0
	fi
	if command -v psql >/dev/null 2>&1; then
		command -v psql
		return 0
	fi
	local d
	while IFS= read -r d; do
		if [[ -n $d && -x $d/psql ]]; then
			printf '%s' "$d/psql"
			return 0
		fi
	done < <(candidate_bindirs)
	return 1
}

# run_psql PSQL HOST PORT USER DB SQL  (no password prompts, no psqlrc)
run_psql() {
	local psql=$1 host=$2 port=$3 user=$4 db=$5 sql=$6
	PGCONNECT_TIMEOUT=5 PGSSLMODE=disable PGOPTIONS='' \
		"$psql" -X -w -q -A -t -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$user" -d "$db" -c "$sql" </dev/null
}

can_connect() { run_psql "$@" postgres 'select 1' >/dev/null 2>&1; }

# ensure_db PSQL HOST PORT USER DBNAME
ensure_db() {
	local psql=$1 host=$2 port=$3 user=$4 db=$5 exists err
	local q="select 1 from pg_database where datname = '$db'"
	exists=$(run_psql "$psql" "$host" "$port" "$user" postgres "$q" 2>&1) || {
		log "cannot query databases as $user: $exists"
		return 1
	}
	[[ $exists == 1 ]] && return 0
	log "creating database $db (as $user on $host:$port)"
	if err=$(run_psql "$psql" "$host" "$port" "$user" postgres "CREATE DATABASE \"$db\"" 2>&1); then
		return 0
	fi
	# Someone else (e.g. the Go program) may have created it meanwhile.
	exists=$(run_psql "$psql" "$host" "$port" "$user" postgres "$q" 2>/dev/null || true)
	[[ $exists == 1 ]] && return 0
	log "cannot create database $db as $user: $err"
	return 1
}

# ---------------------------------------------------------------- step 2: existing local server

use_local_server() {
	local db=$1 hosts=() psql host user
	pg_reachable 127.0.0.1 "$PROBE_PORT" && hosts+=(127.0.0.1)
	if [[ $PROBE_PORT == 5432 && -d /var/run/postgresql ]] && pg_reachable /var/run/postgresql 5432; then
		hosts+=(/var/run/postgresql)
	fi
	if ((${#hosts[@]} == 0)); then
		log "no PostgreSQL server answering on 127.0.0.1:$PROBE_PORT"
		return 1
	fi

	if ! psql=$(find_psql); then
		if [[ ${hosts[0]} == 127.0.0.1 ]]; then
			log "a server answers on 127.0.0.1:$PROBE_PORT but psql is not installed: assuming user $PG_ROLE" \
				"with trust auth and not creating database $db (the Go program creates it itself)"
			emit "$(tcp_url "$PG_ROLE" "$PROBE_PORT" "$db")"
			return 0
		fi
		log "a server answers on /var/run/postgresql but psql is not installed to check access; ignoring it"
		return 1
	fi

	local users=("$PG_ROLE")
	[[ $MY_USER == "$PG_ROLE" ]] || users+=("$MY_USER")
	for host in "${hosts[@]}"; do
		for user in "${users[@]}"; do
			can_connect "$psql" "$host" "$PROBE_PORT" "$user" || continue
			ensure_db "$psql" "$host" "$PROBE_PORT" "$user" "$db" || continue
			if [[ $host == 127.0.0.1 ]]; then
				log "using local server on 127.0.0.1:$PROBE_PORT as $user"
				emit "$(tcp_url "$user" "$PROBE_PORT" "$db")"
			else
				log "using local server via socket $host (port $PROBE_PORT) as $user"
				emit "$(sock_url "$user" "$PROBE_PORT" "$db" "$host")"
			fi
			return 0
		done
	done
	log "a server answers on port $PROBE_PORT but neither ${users[*]} can connect without a password" \
		"(set DATABASE_URL to use it); falling back to a private cluster"
	return 1
}

# ---------------------------------------------------------------- step 3: private cluster

is_root() { [[ $MY_UID == 0 ]]; }

# Run a command as the OS user that owns the cluster (postgres when we are root).
as_pg() {
	if ! is_root; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		(cd / && runuser -u "$PG_OS_USER" -- "$@")
	elif command -v su >/dev/null 2>&1; then
		(cd / && su -s /bin/bash "$PG_OS_USER" -c "$(printf '%q ' "$@")")
	else
		die "running as root but neither runuser nor su is available to switch to user $PG_OS_USER"
	fi
}

ensure_pg_os_user() {
	getent passwd "$PG_OS_USER" >/dev/null 2>&1 && return 0
	command -v useradd >/dev/null 2>&1 ||
		die "running as root: initdb refuses root and OS user $PG_OS_USER does not exist (and useradd is missing)"
	log "creating OS user $PG_OS_USER (initdb refuses to run as root)"
	useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
}

install_hint() {
	printf '%s' "install PostgreSQL $MIN_MAJOR or newer server binaries, e.g. \`sudo apt-get install postgresql\`," \
		" or set DATABASE_URL to a server you have (e.g. DATABASE_URL=postgres://user:pass@host:5432/db)"
}

install_postgres() {
	case $NO_INSTALL in '' | 0 | false | no) ;; *)
		log "LEDGER_PG_NO_INSTALL=$NO_INSTALL: not installing PostgreSQL"
		return 1
		;;
	esac
	is_root || return 1
	command -v apt-get >/dev/null 2>&1 || return 1
	log "PostgreSQL server binaries not found; installing them with apt-get (this takes a minute)..."
	log "running: apt-get update -qq"
	# fds 3 (our stdout) and 9 (lock) must not leak into daemons started by package scripts.
	apt-get update -qq 3>&- 9>&- || {
		log "apt-get update failed"
		return 1
	}
	log "running: apt-get install -y -qq postgresql"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql 3>&- 9>&- || {
		log "apt-get install postgresql failed"
		return 1
	}
	log "PostgreSQL installed"
}

# Where the cluster lives: $REPO/.pgdata, or $TMPBASE when that is impossible.
BASE=''
choose_base() {
	BASE=$REPO/.pgdata
	if ! mkdir -p "$BASE" 2>/dev/null || [[ ! -w $BASE ]]; then
		log "cannot write $BASE; using $TMPBASE instead"
		BASE=$TMPBASE
	elif is_root; then
		chmod 0755 "$BASE"
		if ! as_pg test -x "$BASE"; then
			log "OS user $PG_OS_USER cannot traverse to $BASE (a parent directory is not searchable); using $TMPBASE instead"
			BASE=$TMPBASE
		fi
	fi
	if [[ $BASE == "$TMPBASE" ]]; then
		[[ -d $BASE ]] || mkdir -m 0755 "$BASE"
		[[ -O $BASE ]] || die "$BASE exists but is not owned by $MY_USER; remove it"
	fi
}

# Data dirs this script may have created (for stop and for reuse).
known_datadirs() { printf '%s\n' "$REPO/.pgdata/data" "$TMPBASE/data"; }

pg_status() { as_pg "$PG_BINDIR/pg_ctl" -D "$1" status >/dev/null 2>&1 3>&- 9>&-; }

provision_private() {
	local db=$1
	choose_base
	local data=$BASE/data run=$BASE/run
	local logf=$run/postgres.log
	local wanted=''
	[[ -r $data/PG_VERSION ]] && wanted=$(<"$data/PG_VERSION")

	if ! find_server_bindir "$wanted"; then
		if install_postgres; then
			find_server_bindir "$wanted" ||
				die "installed the postgresql package, but initdb/pg_ctl/postgres are still not in \$PATH" \
					"or $BINDIR_GLOB; $(install_hint)"
		else
			log "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in \$PATH or $BINDIR_GLOB"
			die "$(install_hint)"
		fi
	fi
	if [[ -n $wanted && $wanted != "$PG_MAJOR" ]]; then
		die "the private cluster in $data was created by PostgreSQL $wanted but only PostgreSQL $PG_MAJOR" \
			"binaries were found; it is throwaway, so remove it: scripts/dev-postgres.sh stop; rm -rf $BASE"
	fi

	is_root && ensure_pg_os_user

	mkdir -p "$run"
	local sockdir=$run
	if ((${#sockdir} + ${#PRIV_PORT} + 15 > 100)) || [[ ! $sockdir =~ ^[A-Za-z0-9/._-]+$ ]]; then
		sockdir=/tmp/ledger-pg-$MY_UID-$(short_hash "$data")
		[[ -d $sockdir ]] || mkdir -m 0700 "$sockdir"
		[[ -O $sockdir ]] || die "$sockdir exists but is not owned by $MY_USER; remove it"
	fi
	if is_root; then
		chown "$PG_OS_USER:" "$run" "$sockdir"
		chmod 0700 "$sockdir"
	fi

	if [[ -d $data && ! -e $data/PG_VERSION ]] && [[ -n $(ls -A "$data" 2>/dev/null) ]]; then
		log "$data looks like an interrupted initdb; re-initialising it"
		rm -rf "$data"
	fi
	[[ -e $data/PG_VERSION ]] || init_cluster "$data" "$run"

	local port=$PRIV_PORT
	if pg_status "$data"; then
		local pidport
		pidport=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)
		if valid_port "$pidport" && [[ $pidport != "$port" ]]; then
			log "private cluster is already running on port $pidport (not LEDGER_PG_PORT=$port); using $pidport"
			port=$pidport
		fi
		log "reusing running private cluster ($data, port $port)"
	else
		if tcp_listening 127.0.0.1 "$port"; then
			die "port $port on 127.0.0.1 is already used by another process; pick a free one with LEDGER_PG_PORT=NNNNN"
		fi
		log "starting private cluster: $data on 127.0.0.1:$port (log: $logf)"
		if ! as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$logf" -w -t 60 \
			-o "-p $port -k '$sockdir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
			start >/dev/null 3>&- 9>&-; then
			[[ -r $logf ]] && tail -n 20 "$logf" | sed 's/^/dev-postgres:   | /' >&2
			die "could not start the private cluster (see $logf)"
		fi
	fi

	local psql
	psql=$(find_psql) || die "psql not found next to $PG_BINDIR/pg_ctl or in \$PATH"
	ensure_db "$psql" 127.0.0.1 "$port" "$PG_ROLE" "$db" ||
		die "private cluster on port $port is running but database $db could not be created (see $logf)"
	emit "$(tcp_url "$PG_ROLE" "$port" "$db")"
}

init_cluster() {
	local data=$1 run=$2 loc ilog=$2/initdb.log
	mkdir -p "$data"
	chmod 0700 "$data"
	is_root && chown "$PG_OS_USER:" "$data"
	loc=C
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then loc=C.UTF-8; fi
	log "initialising private cluster in $data (PostgreSQL $PG_MAJOR, locale $loc)"
	if ! as_pg "$PG_BINDIR/initdb" -D "$data" --auth=trust -U "$PG_ROLE" --encoding=UTF8 --locale="$loc" -N \
		>"$ilog" 2>&1 3>&- 9>&-; then
		if [[ $loc != C ]]; then
			log "initdb with locale $loc failed; retrying with locale C"
			find "$data" -mindepth 1 -delete
			loc=C
			as_pg "$PG_BINDIR/initdb" -D "$data" --auth=trust -U "$PG_ROLE" --encoding=UTF8 --locale=C -N \
				>"$ilog" 2>&1 3>&- 9>&- && return 0
		fi
		tail -n 20 "$ilog" | sed 's/^/dev-postgres:   | /' >&2
		rm -rf "$data"
		die "initdb failed (full output: $ilog)"
	fi
}

# ---------------------------------------------------------------- stop

do_stop() {
	take_lock
	local data wanted stopped=0 found=0
	while IFS= read -r data; do
		[[ -e $data/PG_VERSION ]] || continue
		found=1
		wanted=$(<"$data/PG_VERSION")
		if ! find_server_bindir "$wanted"; then
			log "cannot find pg_ctl to stop the private cluster in $data"
			continue
		fi
		if pg_status "$data"; then
			log "stopping private cluster in $data"
			as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 3>&- 9>&- ||
				die "pg_ctl stop failed for $data"
			stopped=1
		fi
	done < <(known_datadirs)
	if ((stopped == 0)); then
		if ((found)); then log "private cluster is not running"; else log "no private cluster to stop"; fi
	fi
}

# ---------------------------------------------------------------- main

main() {
	(($# >= 1)) || usage
	case $1 in
	url)
		(($# == 2)) || usage
		local db=$2
		if [[ -n ${DATABASE_URL:-} ]]; then
			emit "$DATABASE_URL"
			return 0
		fi
		[[ $db =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$ ]] ||
			die "invalid database name '$db' (use letters, digits, _ or -; at most 63 characters)"
		valid_port "$PROBE_PORT" || die "PGPORT_PROBE=$PROBE_PORT is not a port number"
		valid_port "$PRIV_PORT" || die "LEDGER_PG_PORT=$PRIV_PORT is not a port number"
		take_lock
		use_local_server "$db" && return 0
		provision_private "$db"
		;;
	stop)
		(($# == 1)) || usage
		do_stop
		;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
}

main "$@"
