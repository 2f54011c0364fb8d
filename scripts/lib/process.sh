# Shared by the scripts that run a tool in the background (bqemu.sh, ferretdb.sh): source it.

# stop_pidfile PIDFILE: ends the process PIDFILE names (TERM, then KILL after 5 s) and removes the file.
# Returns 1 when there was no pidfile, so the caller knows nothing was running.
stop_pidfile() {
	local pidfile="$1" pid i
	[ -f "$pidfile" ] || return 1
	pid="$(cat "$pidfile")"
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	fi
	rm -f "$pidfile"
}
