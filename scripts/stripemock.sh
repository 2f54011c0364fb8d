#!/usr/bin/env bash
# Builds (once) Stripe's own mock server, github.com/stripe/stripe-mock, for the payments tests and the
# local stack.
#
#   scripts/stripemock.sh build    build the binary into the cache, reusing it when present; prints its path
#   scripts/stripemock.sh run      build if needed and run it in the foreground on 127.0.0.1:12111
#
# The version is pinned in scripts/stripemock/go.mod (its own module, outside the main module's build
# graph). The binary is cached in $STRIPE_MOCK_CACHE (default .cache/stripe-mock, ignored by git) under a
# name carrying a hash of that module, so a version change rebuilds it. The first build takes about 10 s;
# later runs reuse it. Tests find the binary there (or at $EDUGRID_STRIPE_MOCK) and start their own
# instance on a free loopback port; without it they skip, except under CI=true, where they fail.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/scripts/stripemock"
cache="${STRIPE_MOCK_CACHE:-$root/.cache/stripe-mock}"

log() { echo "stripemock: $*" >&2; }

binary() {
	local sum
	sum="$(cat "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
	echo "$cache/stripe-mock-$sum"
}

build() {
	local bin
	bin="$(binary)"
	if [ -x "$bin" ]; then
		echo "$bin"
		return
	fi
	mkdir -p "$cache"
	log "building stripe-mock into $bin"
	local start=$SECONDS
	# A temporary name: an interrupted build never leaves a binary that looks finished.
	(cd "$src" && GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" github.com/stripe/stripe-mock)
	mv "$bin.tmp" "$bin"
	ln -sfn "$(basename "$bin")" "$cache/stripe-mock"
	find "$cache" -maxdepth 1 -name 'stripe-mock-*' ! -name "$(basename "$bin")" -delete
	log "built in $((SECONDS - start)) s"
	echo "$bin"
}

case "${1:-build}" in
build) build ;;
run) exec "$(build)" -http-addr 127.0.0.1:12111 ;;
*) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
