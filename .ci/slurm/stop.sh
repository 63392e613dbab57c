#!/usr/bin/env bash
# Stops the test cluster of start.sh (its jobs, then slurmd, slurmctld and munged, found by the pid files
# in STATE_DIR, so only daemons that start.sh started) and removes STATE_DIR. Safe when nothing runs.
set -uo pipefail
state="${1:-${TOOLKIT_SLURM_STATE:-/tmp/toolkit-slurm}}"
[ -d "$state" ] || exit 0
if [ -f "$state/slurmctld.pid" ] && command -v scancel >/dev/null 2>&1; then
    SLURM_CONF="$state/slurm.conf" timeout 10 scancel --partition=debug >/dev/null 2>&1 || true
fi
pids=()
for daemon in slurmd slurmctld munge/munged; do
    pidfile="$state/$daemon.pid"
    pid="$(cat "$pidfile" 2>/dev/null)" || continue
    # a pid file of an earlier boot may name another process now: only a daemon of that name is ours
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(basename "$daemon")" ] && pids+=("$pid")
done
if [ "${#pids[@]}" -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 100); do
        alive=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        [ "${#alive[@]}" = 0 ] && break
        sleep 0.1
    done
    [ "${#alive[@]}" = 0 ] || kill -KILL "${alive[@]}" 2>/dev/null || true
fi
rm -rf "$state"
