#!/usr/bin/env bash
# Builds (once) and runs the BigQuery emulator for the warehouse conformance suite.
#
#   scripts/bqemu.sh build    build the emulator binary into the cache, reusing it when present
#   scripts/bqemu.sh start    build if needed, start it in the background, wait until it answers,
#                             print EDUGRID_BIGQUERY_EMULATOR=host:http_port,grpc_port on stdout
#   scripts/bqemu.sh stop     stop the emulator started by "start"
#   scripts/bqemu.sh run      build if needed and run it in the foreground
#
# The emulator (github.com/goccy/bigquery-emulator, module scripts/bqemu) compiles ZetaSQL: the
# first build takes about 11-15 minutes on 2 cores and needs clang (gcc 12 rejects ZetaSQL's
# declarations); it is installed with apt-get when missing. The binary (~140 MB) is cached in
# $BQEMU_CACHE (default .cache/bqemu in the repository, ignored by git) under a name carrying the
# emulator version and a hash of scripts/bqemu, so a change there rebuilds it.
#
# Environment: BQEMU_HOST (127.0.0.1), BQEMU_PORT (9050), BQEMU_GRPC_PORT (9060),
# BQEMU_PROJECT (edugrid-local), BQEMU_DATASET (edugrid), BQEMU_CACHE.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/process.sh
source "$root/scripts/lib/process.sh"
src="$root/scripts/bqemu"
version="v0.6.6"
cache="${BQEMU_CACHE:-$root/.cache/bqemu}"
host="${BQEMU_HOST:-127.0.0.1}"
port="${BQEMU_PORT:-9050}"
grpc_port="${BQEMU_GRPC_PORT:-9060}"
project="${BQEMU_PROJECT:-edugrid-local}"
dataset="${BQEMU_DATASET:-edugrid}"
pidfile="$cache/bqemu.pid"
logfile="$cache/bqemu.log"

log() { echo "bqemu: $*" >&2; }

binary() {
	local sum
	sum="$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-12)"
	echo "$cache/bigquery-emulator-$version-$sum"
}

ensure_clang() {
	command -v clang >/dev/null && command -v clang++ >/dev/null && return
	log "clang is missing: installing it with apt-get"
	local sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clang >/dev/null
}

build() {
	local bin
	bin="$(binary)"
	if [ -x "$bin" ]; then
		echo "$bin"
		return
	fi
	ensure_clang
	mkdir -p "$cache"
	log "building the emulator $version into $bin (first build: about 11-15 minutes on 2 cores)"
	local start=$SECONDS
	# -trimpath and a temporary name: an interrupted build never leaves a binary that looks finished.
	(cd "$src" && CGO_ENABLED=1 CC=clang CXX=clang++ GOFLAGS=-mod=readonly \
		nice -n 10 go build -trimpath -o "$bin.tmp" .)
	mv "$bin.tmp" "$bin"
	# Older builds (another version or source) are 140 MB each and never used again.
	find "$cache" -maxdepth 1 -name 'bigquery-emulator-*' ! -name "$(basename "$bin")" -delete
	log "built in $((SECONDS - start)) s"
	echo "$bin"
}

ready() {
	# The REST API answers the project's dataset list once the server listens.
	curl -fsS -o /dev/null "http://$host:$port/bigquery/v2/projects/$project/datasets" 2>/dev/null
}

start() {
	local bin
	bin="$(build)"
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		log "already running (pid $(cat "$pidfile"))"
	else
		mkdir -p "$cache"
		"$bin" -host "$host" -port "$port" -grpc-port "$grpc_port" \
			-project "$project" -dataset "$dataset" >"$logfile" 2>&1 &
		echo $! >"$pidfile"
		local i
		for i in $(seq 1 300); do
			ready && break
			if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
				log "the emulator exited; its log:"
				cat "$logfile" >&2
				rm -f "$pidfile"
				exit 1
			fi
			sleep 0.2
		done
		if ! ready; then
			log "the emulator did not answer within 60 s; its log:"
			cat "$logfile" >&2
			stop
			exit 1
		fi
		log "running (pid $(cat "$pidfile")): project $project, dataset $dataset, REST $host:$port, gRPC $host:$grpc_port"
	fi
	echo "EDUGRID_BIGQUERY_EMULATOR=$host:$port,$grpc_port"
}

stop() {
	if stop_pidfile "$pidfile"; then
		log "stopped"
	fi
}

case "${1:-start}" in
build) build ;;
start) start ;;
stop) stop ;;
run) exec "$(build)" -host "$host" -port "$port" -grpc-port "$grpc_port" -project "$project" -dataset "$dataset" ;;
*)
	echo "usage: $0 build|start|stop|run" >&2
	exit 2
	;;
esac
