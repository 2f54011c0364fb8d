#!/usr/bin/env bash
# Checks the committed API document as clients meet it:
#   1. Redocly (recommended rules) and Spectral (spectral:oas) lint openapi.json, warnings included;
#   2. openapi-typescript generates the typed client's types from openapi.json, and tsc compiles the sample
#      frontend flow (clients/typescript/src) against them with openapi-fetch, so a document change that
#      breaks a client fails here.
#
#   scripts/apilint.sh
#
# The tools are the versions pinned in clients/typescript/package-lock.json, installed with `npm ci` into
# .cache/npm (ignored by git, with its own npm cache) the first time and whenever the lock file changes;
# afterwards the script needs no network. Needs Node.js 20.19+ and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "apilint: $*" >&2; }

client=clients/typescript
tools=.cache/npm
stamp="$tools/installed.sha256"
want=$(sha256sum "$client/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	log "installing the pinned tools into $tools"
	start=$SECONDS
	rm -rf "$tools/node_modules"
	mkdir -p "$tools"
	cp "$client/package.json" "$client/package-lock.json" "$tools/"
	# --ignore-scripts: no install script runs (one package only phones home from its postinstall).
	npm ci --prefix "$tools" --cache "$tools/cache" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
	echo "$want" >"$stamp"
	log "installed in $((SECONDS - start)) s"
fi
bin="$PWD/$tools/node_modules/.bin"
# Nothing below reaches the network: no telemetry, no update checks.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

step=$SECONDS
log "redocly lint (recommended)"
# Redocly fails only on errors; a warning fails here too.
report=$("$bin/redocly" lint --config "$client/redocly.yaml" --format stylish --max-problems 1000 openapi.json 2>&1) || { echo "$report" >&2; exit 1; }
if grep -qE '^ +[0-9]+:[0-9]+ +warning' <<<"$report"; then echo "$report" >&2; log "redocly reported warnings"; exit 1; fi
log "spectral lint (spectral:oas)  [redocly took $((SECONDS - step)) s]"; step=$SECONDS
"$bin/spectral" lint --ruleset "$client/.spectral.yaml" --fail-severity warn --display-only-failures openapi.json >&2

log "typed client: openapi-typescript, then tsc on the sample flow  [spectral took $((SECONDS - step)) s]"; step=$SECONDS
"$bin/openapi-typescript" openapi.json --output "$client/src/edugrid.d.ts" --silent >&2
# tsc resolves openapi-fetch from the client's node_modules: point it at the installed tools.
ln -sfn "../../$tools/node_modules" "$client/node_modules"
"$bin/tsc" --project "$client/tsconfig.json" >&2
log "ok  [client took $((SECONDS - step)) s]"
