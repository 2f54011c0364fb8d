#!/usr/bin/env bash
# Builds (once) and runs FerretDB for the over-the-wire test tier (README, "Tests and checks").
#
#   scripts/ferretdb.sh build    build the server binary into the cache, reusing it when present
#   scripts/ferretdb.sh start    build if needed, start it in the background on a fresh SQLite directory,
#                                wait until it answers, print EDUGRID_TEST_MONGODB_URI=mongodb://... on stdout
#   scripts/ferretdb.sh stop     stop the server started by "start" and delete its databases
#
# FerretDB v1.24.2 (github.com/FerretDB/FerretDB, embedded with its SQLite backend by the module
# scripts/ferretdb, outside the main module's build graph) speaks the MongoDB wire protocol; it has no
# transactions, change streams, partial or TTL indexes. Pure Go: the first build takes about 1.5 minutes on
# 2 shared cores, then nothing. The binary (~37 MB) is cached in $FERRETDB_CACHE (default .cache/ferretdb,
# ignored by git) under a name carrying the version and a hash of scripts/ferretdb, so a change there
# rebuilds it. It listens on loopback only, without authentication.
#
# Environment: FERRETDB_PORT (27018), FERRETDB_CACHE.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/process.sh
source "$root/scripts/lib/process.sh"
src="$root/scripts/ferretdb"
version="v1.24.2"
cache="${FERRETDB_CACHE:-$root/.cache/ferretdb}"
host="127.0.0.1"
port="${FERRETDB_PORT:-27018}"
pidfile="$cache/ferretdb.pid"
logfile="$cache/ferretdb.log"
datafile="$cache/ferretdb.data" # names the running server's SQLite directory

log() { echo "ferretdb: $*" >&2; }

binary() {
	local sum
	sum="$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-12)"
	echo "$cache/ferretdb-$version-$sum"
}

build() {
	local bin
	bin="$(binary)"
	if [ -x "$bin" ]; then
		echo "$bin"
		return
	fi
	mkdir -p "$cache"
	log "building FerretDB $version into $bin (first build: about 1.5 minutes on 2 cores)"
	local start=$SECONDS
	# -trimpath and a temporary name: an interrupted build never leaves a binary that looks finished.
	(cd "$src" && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o "$bin.tmp" .)
	mv "$bin.tmp" "$bin"
	find "$cache" -maxdepth 1 -name 'ferretdb-v*' ! -name "$(basename "$bin")" -delete
	log "built in $((SECONDS - start)) s"
	echo "$bin"
}

ready() {
	# The wire protocol answers on the port once the listener is up.
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

start() {
	local bin data
	bin="$(build)"
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		log "already running (pid $(cat "$pidfile"))"
	else
		if ready; then
			log "port $port is taken by another process: set FERRETDB_PORT"
			exit 1
		fi
		mkdir -p "$cache"
		data="$(mktemp -d "${TMPDIR:-/tmp}/edugrid-ferretdb.XXXXXX")"
		echo "$data" >"$datafile"
		"$bin" -listen "$host:$port" -dir "$data" >"$logfile" 2>&1 &
		echo $! >"$pidfile"
		local i
		for i in $(seq 1 150); do
			ready && break
			if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
				log "the server exited; its log:"
				cat "$logfile" >&2
				rm -f "$pidfile"
				exit 1
			fi
			sleep 0.2
		done
		if ! ready; then
			log "the server did not answer within 30 s; its log:"
			cat "$logfile" >&2
			stop
			exit 1
		fi
		log "running (pid $(cat "$pidfile")) on $host:$port, databases in $data"
	fi
	echo "EDUGRID_TEST_MONGODB_URI=mongodb://$host:$port/"
}

stop() {
	if stop_pidfile "$pidfile"; then
		log "stopped"
	fi
	if [ -f "$datafile" ]; then
		rm -rf "$(cat "$datafile")"
		rm -f "$datafile"
	fi
}

case "${1:-start}" in
build) build ;;
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 build|start|stop" >&2
	exit 2
	;;
esac
