#!/usr/bin/env bash
# Install a single-node SLURM (Debian slurm-wlm + munge) for tests/workflow/test_slurm.py.
# Idempotent: does nothing when slurmctld, slurmd, sbatch, squeue and munged are already on PATH.
# The test itself writes slurm.conf, the munge key and all state under a temporary directory.
set -euo pipefail

have_all() {
    for cmd in slurmctld slurmd sbatch squeue scancel munged; do
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || return 1
    done
}

if have_all; then
    echo "setup_slurm: slurm-wlm and munge already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_slurm: need root to apt-get install slurm-wlm munge" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
have_all && echo "setup_slurm: installed $(slurmctld -V 2>/dev/null || echo slurm)"
