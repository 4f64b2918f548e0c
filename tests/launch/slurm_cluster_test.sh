#!/usr/bin/env bash
# launcher=slurm against a real single-node Slurm cluster that this script
# starts itself (munged, slurmctld, slurmd as root, everything in a temp dir,
# ports of its own) and stops again by pid. A 4-job sweep is submitted with
# sbatch as a job array; every job dir must end `done`, and the sbatch
# script must carry the launcher's settings.
#   slurm_cluster_test.sh MIKE_EXE FIXTURE_PLUGIN_DIR SCRATCH_DIR
set -uo pipefail
mike="$1"
fixtures="$2"
scratch_root="$3"

fail() { echo "FAIL: $*" >&2; exit 1; }

for tool in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$tool" >/dev/null ||
    fail "'$tool' is not installed; this test needs the Debian packages slurmctld slurmd slurm-client munge (./bootstrap.sh installs them)"
done
[ "$(id -u)" -eq 0 ] || fail "the Slurm test starts slurmd and must run as root"

mkdir -p "$scratch_root"
tmp="$(mktemp -d "$scratch_root/slurm_test.XXXXXX")"
chmod 700 "$tmp"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
}
trap cleanup EXIT
show_logs() { for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; }

host="$(hostname -s)"
cpus="$(nproc)"
base=$(( 20000 + ($$ % 5000) * 2 ))
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/munge"
chmod 700 "$tmp/munge"

# munge: a fresh key and a private socket.
dd if=/dev/urandom bs=1 count=1024 of="$tmp/munge/munge.key" status=none
chmod 400 "$tmp/munge/munge.key"
munged -F --force --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.sock" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge/seed" &
pids+=($!)

cat >"$tmp/slurm.conf" <<CONF
ClusterName=miketest
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${base}
SlurmdPort=$(( base + 1 ))
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"

for _ in $(seq 50); do [ -S "$tmp/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$tmp/munge/munge.sock" ] || { show_logs; fail "munged did not start"; }
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" >"$tmp/slurmd.out" 2>&1 &
pids+=($!)

ready=0
for _ in $(seq 60); do
  if grep -qE '^(idle|mix|alloc)' <<<"$(sinfo -h -N -o '%t' 2>/dev/null)"; then ready=1; break; fi
  sleep 0.5
done
[ "$ready" -eq 1 ] || { sinfo -N 2>&1 >&2; show_logs; fail "the Slurm node did not become idle within 30 s"; }

# A mini world and configs over the fixture plugins; each job makes 2 edits.
"$mike" -q data synth --out "$tmp/world" --entities 26 --images-per-entity 4 --size 16 >/dev/null ||
  fail "mike data synth failed"
mkdir -p "$tmp/configs/model" "$tmp/configs/editor" "$tmp/configs/launcher"
cat >"$tmp/configs/config.yaml" <<CONF
defaults:
  - model: toy
  - editor: scale
  - launcher: local
  - _self_
task: vna
igen: augmented
seed: 0
threads: 1
data: {format: mike, dir: $tmp/world, split: test, limit: 2}
protocol: {name: single}
eval: {batch_size: 4, max_new_tokens: 4}
metric: {exact: {plugin: exact}, probes: {vna: {reliability: [exact]}}}
out_dir: null
CONF
printf 'plugin: toy\ninit_scale: 0.1\nseed: 1\n' >"$tmp/configs/model/toy.yaml"
printf 'plugin: scale\nparameter: bigram.weight\nfactor: 2.0\n' >"$tmp/configs/editor/scale.yaml"
printf 'name: local\njobs: 1\n' >"$tmp/configs/launcher/local.yaml"
printf 'name: slurm\npartition: debug\ntime: "00:10:00"\nmem: null\ncpus_per_task: 1\nmax_parallel: 2\nsbatch_args: []\n' \
  >"$tmp/configs/launcher/slurm.yaml"

sweep="$tmp/sweep"
if ! timeout 240 "$mike" -q run --plugin-path "$fixtures" --config-dir "$tmp/configs" -m --wait \
    launcher=slurm 'editor.factor=1.5,2.0' 'seed=0,1' "out_dir=$sweep" >"$tmp/run.out" 2>&1; then
  cat "$tmp/run.out" >&2
  for f in "$sweep"/slurm/*.out; do echo "--- $f" >&2; cat "$f" >&2; done
  show_logs
  fail "the Slurm sweep did not end with every job done"
fi
cat "$tmp/run.out"

script="$sweep/slurm/submit.sbatch"
grep -q '^#SBATCH --array=0-3%2$' "$script" || fail "submit.sbatch lacks --array=0-3%2"
grep -q '^#SBATCH --partition=debug$' "$script" || fail "submit.sbatch lacks --partition=debug"
grep -q '^#SBATCH --time=00:10:00$' "$script" || fail "submit.sbatch lacks --time"
grep -q '^#SBATCH --cpus-per-task=1$' "$script" || fail "submit.sbatch lacks --cpus-per-task"
grep -q -- '--mem' "$script" && fail "mem: null must not write --mem"
for n in 0 1 2 3; do
  grep -q '^state: done$' "$sweep/$n/status.yaml" || { cat "$sweep/$n/status.yaml" >&2; fail "job $n is not done"; }
  [ -f "$sweep/$n/summary.json" ] || fail "job $n has no summary.json"
done
grep -q 'factor: 1.5' "$sweep/1/config.yaml" || fail "job 1 should have editor.factor=1.5"
grep -q "4 jobs, 4 done, 0 failed, 0 interrupted, 0 skipped" "$tmp/run.out" || fail "summary line missing"
"$mike" sweep status "$sweep" >"$tmp/status.out" || { cat "$tmp/status.out" >&2; fail "mike sweep status says not all done"; }
grep -q "no task queued or running" "$tmp/status.out" || fail "sweep status should show the Slurm job as finished"

# Without sbatch on PATH the launcher names the package to install.
out="$(PATH=/nonexistent "$mike" -q run --plugin-path "$fixtures" --config-dir "$tmp/configs" -m launcher=slurm \
  'seed=0,1' "out_dir=$tmp/nosbatch" 2>&1)"
rc=$?
[ "$rc" -eq 2 ] || fail "missing sbatch should exit 2, got $rc: $out"
grep -q "install the Debian package slurm-client" <<<"$out" || fail "missing sbatch message: $out"

cleanup
trap - EXIT
rm -rf "$tmp"
echo "PASS: 4-job Slurm array sweep ended done"
