#!/usr/bin/env bash
# Start, or resume after any interruption, stages of the reproduction campaign (docs/reproduction.md):
#
#   bash configs/reproduce/run.sh STAGE [STAGE ...]      # one after another, in the background
#   bash configs/reproduce/run.sh k24_parity:analyze     # the timescale rows of a stage's networks
#   bash configs/reproduce/run.sh --foreground STAGE     # in this shell (e.g. inside a batch job)
#
# STAGE names configs/reproduce/STAGE.yaml, a sweep spec; STAGE:analyze runs the sweep analysis
# `reproduction` (the paper's 10 x 10^5-step simulation, both estimators) over that stage's finished
# runs. Each stage (and each stage's analysis) runs from its own non-editable install of the package
# at the revision it was first started with (CAMPAIGN_DIR/STAGE.revision), so editing the working
# tree never changes a stage in flight; on a fresh machine that install is rebuilt from the same
# revision. Run directories go to CAMPAIGN_DIR/STAGE (default ~/rnn-timescales-campaign, outside
# the work tree), logs to CAMPAIGN_DIR/STAGE.log. The sweep skips finished runs and resumes
# interrupted ones, so running this again is always safe.
# Environment: CAMPAIGN_DIR; SWEEP_ARGS (default "--workers 1"; e.g. "--backend ray --address auto");
# TORCH (what pip installs for PyTorch; default torch==2.13.0, the CPU build).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
campaign=${CAMPAIGN_DIR:-$HOME/rnn-timescales-campaign}
torch_req=${TORCH:-torch==2.13.0}
read -r -a sweep_args <<< "${SWEEP_ARGS:---workers 1}"
foreground=0
if [ "${1:-}" = "--foreground" ]; then foreground=1; shift; fi
[ $# -gt 0 ] || { echo "usage: run.sh [--foreground] STAGE[:analyze] ..." >&2; exit 2; }
mkdir -p "$campaign"

install() {  # install REV -> prints the venv of that revision, building it if missing
  local rev=$1 short=${1:0:10}
  local src="$campaign/src-$short" venv="$campaign/venv-$short"
  if [ ! -x "$venv/bin/rnn-timescales" ]; then
    rm -rf "$src" "$venv"
    mkdir -p "$src"
    git -C "$repo" archive "$rev" | tar -x -C "$src"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q "$torch_req" >&2
    "$venv/bin/python" -m pip install -q "$src" >&2   # not editable: the stage never sees later edits
  fi
  echo "$venv"
}

commands=()
for arg in "$@"; do
  stage=${arg%%:*}
  mode=run; [ "$arg" != "$stage" ] && mode=${arg#*:}
  [ -f "$repo/configs/reproduce/$stage.yaml" ] || { echo "run.sh: no stage $stage (configs/reproduce/$stage.yaml)" >&2; exit 2; }
  [ "$mode" = run ] || [ "$mode" = analyze ] || { echo "run.sh: $arg: the mode after ':' must be analyze" >&2; exit 2; }
  name=$stage; [ "$mode" = analyze ] && name="$stage.analyze"
  revfile="$campaign/$name.revision"
  if [ -f "$revfile" ]; then
    rev=$(cat "$revfile")
  else
    [ -z "$(git -C "$repo" status --porcelain -- src configs pyproject.toml)" ] \
      || { echo "run.sh: commit src/, configs/ and pyproject.toml first: a stage runs from a committed revision" >&2; exit 2; }
    rev=$(git -C "$repo" rev-parse HEAD)
    echo "$rev" > "$revfile"
  fi
  venv=$(install "$rev")
  out="$campaign/$stage"
  if [ "$mode" = run ]; then
    cmd="$venv/bin/rnn-timescales sweep $campaign/src-${rev:0:10}/configs/reproduce/$stage.yaml --out $out --no-progress ${sweep_args[*]}"
  else
    cmd="$venv/bin/rnn-timescales sweep analyze $out --set analyze.reproduction={} --no-progress ${sweep_args[*]}"
  fi
  commands+=("echo \"\$(date -u +%FT%TZ) revision $rev: $cmd\" >> $campaign/$name.log; OMP_NUM_THREADS=1 $cmd >> $campaign/$name.log 2>&1")
done

script=$(printf '%s; ' "${commands[@]}")
if [ "$foreground" = 1 ]; then
  exec bash -c "$script"
fi
nohup setsid bash -c "$script" > /dev/null 2>&1 < /dev/null &
echo "started in the background (pid $!): $*; logs in $campaign/*.log"
echo "status: rnn-timescales sweep status $campaign/STAGE"
