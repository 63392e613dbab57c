#!/usr/bin/env bash
# Installs Debian's SLURM (slurmctld, slurmd, slurm-client) and munge if any of them is missing.
# Needs root and apt-get; exits 1 with the reason otherwise (tests/test_slurm.py then skips with it).
set -euo pipefail
missing=0
for tool in munged mungekey slurmctld slurmd sinfo sbatch scontrol; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null 2>&1 || missing=1
done
[ "$missing" = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "slurm is not installed and installing it needs root (apt-get install slurmctld slurmd slurm-client munge)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "slurm is not installed and there is no apt-get to install it" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
echo "installed: $(/usr/sbin/slurmctld -V), munge $(dpkg-query -W -f='${Version}' munge)"
