#!/usr/bin/env bash
# Start, or resume after any interruption, stages of the reproduction campaign (docs/reproduction.md):
#
#   bash configs/reproduce/run.sh STAGE [STAGE ...]      # one after another, in the background
#   bash configs/reproduce/run.sh k24_parity:analyze     # the timescale rows of a stage's networks
#   bash configs/reproduce/run.sh k24_parity:robustness  # perturbation, ablation, forgetting, continuous time at N = 30
#   bash configs/reproduce/run.sh h19_curricula:post     # speed regularisation of the DeCu and VoCu networks
#   bash configs/reproduce/run.sh --foreground STAGE     # in this shell (e.g. inside a batch job)
#   bash configs/reproduce/run.sh --stop                 # stop every background queue; runs save their state
#   bash configs/reproduce/run.sh --stop k24_fixed_tau   # stop the queues started with that stage alone
#
# STAGE names configs/reproduce/STAGE.yaml, a sweep spec; STAGE:analyze runs the sweep analysis
# `reproduction` (the paper's 10 x 10^5-step simulation, both estimators) over that stage's finished
# runs. Each stage (and each stage's analysis) runs from its own non-editable install of the package
# at the revision it was first started with (CAMPAIGN_DIR/STAGE.revision), so editing the working
# tree never changes a stage in flight; on a fresh machine that install is rebuilt from the same
# revision. Run directories go to CAMPAIGN_DIR/STAGE (default ~/rnn-timescales-campaign, outside
# the work tree), logs to CAMPAIGN_DIR/STAGE.log. The sweep skips finished runs and resumes
# interrupted ones, so running this again is always safe. One driver per stage: a second queue
# naming a stage whose sweep is running is refused by the sweep's driver lock (that stage fails in
# the log; the queue goes on to its next stage). To train two runs of one stage at once, give its
# queue two workers (SWEEP_ARGS="--workers 2": one thread each), e.g. stop it and start it again so,
# as runs resume exactly. STAGE:robustness writes CAMPAIGN_DIR/STAGE.robustness/robustness (the robustness command
# over every finished run of the stage at N = ROBUSTNESS_N); STAGE:post runs the sweep analysis
# speed_regularization ([H19]'s fine-tuning with and without the speed term) on the runs whose
# curriculum.kind is in POST_CURRICULA (default delay,vocabulary), into each run directory, beside
# the spec's own analyses (extrapolate, recall_memory), where `sweep collect` finds them all.
# Environment: CAMPAIGN_DIR; SWEEP_ARGS (default "--workers 1"; e.g. "--backend ray --address auto", or
# "--workers 1 --only seed=0,1,2" for some of the seeds, in stages pinned at a revision that has --only);
# POST_CURRICULA (STAGE:post: the curricula whose runs are fine-tuned; default delay,vocabulary);
# TORCH (what pip installs for PyTorch; default torch==2.13.0, the CPU build); ROBUSTNESS_N (default
# 30); ROBUSTNESS_KINDS (default "perturb-w perturb-tau ablation forgetting continuous"; add retrain for the
# retraining figure, about 20 minutes per network at N = 30 on one core); ROBUSTNESS_ARGS (more flags);
# ROBUSTNESS_WITH (run directories, relative to CAMPAIGN_DIR or absolute, analysed beside the stage's
# own: e.g. k24_parity's multi-head networks beside k24_single_long's single-head ones; `sweep
# collect` given both stages identifies every row with its run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
campaign=${CAMPAIGN_DIR:-$HOME/rnn-timescales-campaign}
torch_req=${TORCH:-torch==2.13.0}
read -r -a sweep_args <<< "${SWEEP_ARGS:---workers 1}"
foreground=0
if [ "${1:-}" = "--stop" ]; then  # SIGINT to each queue's process group, as Ctrl-C would: runs save their state
  # queue.pid: one line per queue, "PID STAGE[:MODE] ..." (what it was started with); --stop ARG stops
  # the queues started with ARG among theirs, --stop alone every queue
  which=${2:-}
  stopped=0; kept=""
  if [ -f "$campaign/queue.pid" ]; then
    while read -r pid stages; do
      [ -n "$pid" ] || continue
      kill -0 -- "-$pid" 2>/dev/null || continue                  # ended: forget it
      if [ -z "$which" ] || [[ " $stages " == *" $which "* ]]; then
        kill -INT -- "-$pid" 2>/dev/null && { echo "stopping the campaign queue ${stages:-?} (process group $pid)"; stopped=1; }
      else
        kept+="$pid $stages"$'\n'
      fi
    done < "$campaign/queue.pid"
    if [ -n "$kept" ]; then printf '%s' "$kept" > "$campaign/queue.pid"; else rm -f "$campaign/queue.pid"; fi
  fi
  [ "$stopped" = 1 ] && exit 0
  echo "run.sh: no campaign queue${which:+ of $which} is running" >&2; exit 1
fi
if [ "${1:-}" = "--foreground" ]; then foreground=1; shift; fi
[ $# -gt 0 ] || { echo "usage: run.sh [--foreground|--stop] STAGE[:analyze|:robustness|:post] ..." >&2; exit 2; }
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
  case $mode in run|analyze|robustness|post) ;; *) echo "run.sh: $arg: the mode after ':' must be analyze, robustness or post" >&2; exit 2;; esac
  name=$stage; [ "$mode" != run ] && name="$stage.$mode"
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
  rt="$venv/bin/rnn-timescales"
  case $mode in
    run) cmd="$rt sweep $campaign/src-${rev:0:10}/configs/reproduce/$stage.yaml --out $out --no-progress ${sweep_args[*]}";;
    analyze) cmd="$rt sweep analyze $out --set analyze.reproduction={} --no-progress ${sweep_args[*]}";;
    robustness)
      kinds=""; for k in ${ROBUSTNESS_KINDS:-perturb-w perturb-tau ablation forgetting continuous}; do kinds="$kinds --kind $k"; done
      with=""; for w in ${ROBUSTNESS_WITH:-}; do case $w in /*) with="$with $w";; *) with="$with $campaign/$w";; esac; done
      cmd="$rt robustness $out$with --n ${ROBUSTNESS_N:-30}$kinds --out $campaign/$name --no-progress ${ROBUSTNESS_ARGS:-}";;
    post)  # the spec's analyses (if not yet run) and speed regularisation of the curriculum-trained networks
      cmd="$rt sweep analyze $out --set analyze.speed_regularization={} --only curriculum.kind=${POST_CURRICULA:-delay,vocabulary} --no-progress ${sweep_args[*]}";;
  esac
  # a stage stopped by --stop (exit 130) ends the queue; one that fails lets the next stage start
  commands+=("echo \"\$(date -u +%FT%TZ) revision $rev:\" ${cmd@Q} >> $campaign/$name.log; (export OMP_NUM_THREADS=1; $cmd) >> $campaign/$name.log 2>&1; rc=\$?; [ \$rc -ne 130 ] || exit 130; (exit \$rc)")
done

script=$(printf '%s; ' "${commands[@]}")
# run.sh itself may have been started with SIGINT ignored (by `nohup ... &` from a script, a batch or
# CI job), which no shell can undo for its children: the queue starts with SIGINT reset to its default
# (GNU env; elsewhere the queue keeps what it inherited)
reset_int=(); env --default-signal=INT true 2>/dev/null && reset_int=(env --default-signal=INT)
if [ "$foreground" = 1 ]; then
  exec "${reset_int[@]}" bash -c "$script"
fi
# job control on: without it a non-interactive shell starts a background job with SIGINT ignored,
# which every command of the queue would inherit (and --stop could not stop the ones that do not
# install their own handler, such as robustness)
set -m
# setsid makes the queue's shell a session (and process group) leader; as the job is a group leader
# already (set -m), setsid forks first, so $! is not the group: the shell writes its own pid ($$, the
# group that run.sh --stop signals) into a file of its own, and queue.pid gets it from there
started=$(mktemp "$campaign/.queue.XXXXXX")
nohup setsid "${reset_int[@]}" bash -c "echo \$\$ > ${started@Q}; $script" > /dev/null 2>&1 < /dev/null &
for _ in $(seq 100); do [ -s "$started" ] && break; sleep 0.1; done
group=$(cat "$started"); rm -f "$started"
[ -n "$group" ] || { echo "run.sh: the queue did not start (see $campaign/*.log)" >&2; exit 1; }
echo "$group $*" >> "$campaign/queue.pid"   # run.sh --stop [STAGE] signals this process group
echo "started in the background (process group $group): $*; logs in $campaign/*.log"
echo "status: rnn-timescales sweep status $campaign/STAGE"
