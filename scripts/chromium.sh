#!/usr/bin/env bash
# Installs headless Chromium for the browser tests (Debian's chromium package) when it is missing, and
# prints the path of the binary on stdout.
#
#   scripts/chromium.sh
#
# The browser tests (internal/browsertest) look for chromium on PATH and skip without it, except in CI
# (CI=true), where a missing browser fails them. This script is what makes them run: .ci/run calls it
# before the tests. It needs apt-get and root (or sudo). A fresh install takes a minute or two; when
# chromium is present it returns at once.
set -euo pipefail

log() { echo "chromium: $*" >&2; }

for name in chromium chromium-browser; do
	if path="$(command -v "$name")"; then
		echo "$path"
		exit 0
	fi
done

log "chromium is missing: installing it with apt-get"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
start=$SECONDS
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
log "installed $(chromium --version 2>/dev/null || echo chromium) in $((SECONDS - start)) s"
command -v chromium
