# What the recipes (scripts/train_preview.sh, scripts/train_aligned.sh) share: step counts, the time budget,
# one training run, one data cache. Sourced after the recipe has set QUICK, RUNS, DATA, MAX_MINUTES, STARTED,
# QUICK_EXTRA and CONFIGS (the folder of its trainer configs).

steps() {  # a step count of the recipe; QUICK: 1/400 of it, at least 2 (chains of --resume keep growing)
  if [ "$QUICK" = "1" ]; then echo $(( $1 / 400 > 2 ? $1 / 400 : 2 )); else echo "$1"; fi
}

budget() {  # what is left of MAX_MINUTES (prints max_minutes=...), or exit 75 before starting $1
  [ "$MAX_MINUTES" = "0" ] && return 0
  local left
  left=$(awk -v m="$MAX_MINUTES" -v s="$(( $(date +%s) - STARTED ))" 'BEGIN { printf "%.2f", m - s / 60 }')
  if awk -v l="$left" 'BEGIN { exit !(l <= 0) }'; then
    echo "== time budget of $MAX_MINUTES min spent before $1; run again with RESUME=1 to go on" >&2
    exit 75
  fi
  echo "max_minutes=$left"
}

train() {  # trainer config run from overrides...: one training run in $RUNS/run, resumed from its own
  # checkpoint when it has one, else from run `from`'s (a run trained on further; - for none), else started
  local trainer=$1 cfg=$2 run=$3 from=$4 flags=() rc=0
  shift 4
  if [ -f "$RUNS/$run/checkpoints/latest.txt" ]; then
    flags+=(--resume "$RUNS/$run")
  elif [ "$from" != "-" ]; then
    flags+=(--resume "$RUNS/$from")
  fi
  local b; b=$(budget "$run"); [ -n "$b" ] && flags+=("$b")
  echo "== $trainer $run: $*"
  python -m taming_lite.train "$trainer" --config "$CONFIGS/$cfg.yaml" "${flags[@]}" \
    out_dir="$RUNS/$run" progress=false "$@" "${QUICK_EXTRA[@]}" || rc=$?
  if [ "$rc" = 75 ]; then
    echo "== time budget of $MAX_MINUTES min reached during $run (checkpoint saved); run again with RESUME=1 to go on" >&2
  fi
  [ "$rc" = 0 ] || exit "$rc"
}

cache() {  # source n seed name: render procedural samples into one npz shard, $DATA/name/shard_00000.npz
  [ -f "$DATA/$4/shard_00000.npz" ] && return 0
  python -m taming_lite.data cache --source "$1" --n "$2" --seed "$3" --size 64 --format npz --shard-size "$2" \
    --out "$DATA/$4" --quiet
}

run_stages() {  # every stage of STAGES in order: stage_<name>; finished ones (a file in $RUNS/done) skipped
  if [ "${RESUME:-0}" != "1" ] && [ -e "$RUNS" ]; then
    echo "$RUNS exists: RESUME=1 to go on from it, or remove it to start again" >&2
    exit 2
  fi
  mkdir -p "$RUNS/done" "$DATA" "$W"
  for s in "${STAGES[@]}"; do
    if [ -f "$RUNS/done/$s" ]; then
      echo "== stage $s: done before"
      continue
    fi
    budget "stage $s" >/dev/null
    echo "== stage $s"
    "stage_$s"
    touch "$RUNS/done/$s"
  done
}
