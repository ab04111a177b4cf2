#!/usr/bin/env bash
# Start, or resume after any interruption, one stage of the reproduction campaign (docs/reproduction.md):
#
#   bash configs/reproduce/run.sh STAGE [--workers K] [--backend ray --address auto] [--foreground]
#
# STAGE names configs/reproduce/STAGE.yaml. The stage runs from its own non-editable install of the
# package at the revision it was first started with (recorded in CAMPAIGN_DIR/STAGE.revision), so
# that editing the working tree never changes a stage in flight; on a fresh machine that install is
# rebuilt from the same revision. Its run directories go to CAMPAIGN_DIR/STAGE (default
# ~/rnn-timescales-campaign, outside the work tree), its log to CAMPAIGN_DIR/STAGE.log. The sweep
# skips finished runs and resumes interrupted ones, so running this again is always safe.
# Environment: CAMPAIGN_DIR, TORCH (what pip installs for PyTorch; default torch==2.13.0, the CPU build).
set -euo pipefail
stage=${1:?usage: run.sh STAGE [sweep options] [--foreground]}
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
campaign=${CAMPAIGN_DIR:-$HOME/rnn-timescales-campaign}
torch_req=${TORCH:-torch==2.13.0}
mkdir -p "$campaign"
[ -f "$repo/configs/reproduce/$stage.yaml" ] || { echo "run.sh: no stage $stage (configs/reproduce/$stage.yaml)" >&2; exit 2; }

foreground=0
args=()
for a in "$@"; do
  if [ "$a" = "--foreground" ]; then foreground=1; else args+=("$a"); fi
done
if [ ${#args[@]} -eq 0 ]; then args=(--workers 1); fi

revfile="$campaign/$stage.revision"
if [ -f "$revfile" ]; then
  rev=$(cat "$revfile")
else
  [ -z "$(git -C "$repo" status --porcelain -- src configs pyproject.toml)" ] \
    || { echo "run.sh: commit src/, configs/ and pyproject.toml first: a stage runs from a committed revision" >&2; exit 2; }
  rev=$(git -C "$repo" rev-parse HEAD)
  echo "$rev" > "$revfile"
fi
short=${rev:0:10}
src="$campaign/src-$short"
venv="$campaign/venv-$short"
if [ ! -x "$venv/bin/rnn-timescales" ]; then
  rm -rf "$src" "$venv"
  mkdir -p "$src"
  git -C "$repo" archive "$rev" | tar -x -C "$src"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q "$torch_req"
  "$venv/bin/python" -m pip install -q "$src"   # not editable: the stage never sees later edits
fi

spec="$src/configs/reproduce/$stage.yaml"
out="$campaign/$stage"
cmd=("$venv/bin/rnn-timescales" sweep "$spec" --out "$out" --no-progress "${args[@]}")
printf '%s revision %s: %s\n' "$(date -u +%FT%TZ)" "$rev" "${cmd[*]}" >> "$campaign/$stage.log"
if [ "$foreground" = 1 ]; then
  exec "${cmd[@]}" >> "$campaign/$stage.log" 2>&1
fi
OMP_NUM_THREADS=1 nohup setsid "${cmd[@]}" >> "$campaign/$stage.log" 2>&1 < /dev/null &
echo "stage $stage started (pid $!, revision $short): log $campaign/$stage.log, runs $out"
echo "status: $venv/bin/rnn-timescales sweep status $out"
