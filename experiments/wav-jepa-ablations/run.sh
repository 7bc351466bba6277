#!/usr/bin/env bash
# The two WavJEPA models the top-K and Nat claims of RESULTS.md compare with WavJEPA-Tiny:
# WavJEPA-Tiny with top-K = 1 targets, and WavJEPA-Nat-Tiny (two ears, naturalistic scenes).
#
# WavJEPA-Tiny's run was shortened three times to fit its session, and each shortening
# re-planned the cosine learning-rate schedule (assets/wav-jepa-tiny/MODEL_CARD.md). Both
# runs here replay that exact sequence of --steps with --stop-after, so they see the same
# learning rates, EMA momenta and batches step for step and differ from WavJEPA-Tiny only
# in top_k or in the ears.
#
# Usage: experiments/wav-jepa-ablations/run.sh DATA_DIR [top1|nat ...]
#   DATA_DIR holds songs/, wesnoth/ and ufoai/ as in assets/pupu-jepa-tiny/MODEL_CARD.md.
#   TESSERA overrides the binary (default: cargo run --release).
# Rerunning resumes each run from its last checkpoint.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="$(cd "${1:?usage: run.sh DATA_DIR [top1|nat ...]}" && pwd)"
shift
runs=("$@")
((${#runs[@]})) || runs=(top1 nat)
tessera=(${TESSERA:-cargo run --quiet --release --manifest-path "$repo/Cargo.toml" -p tessera-train --})

# (steps planned, last step of that phase): WavJEPA-Tiny's schedule.
phases=("1000 100" "450 150" "350 250" "300 300")

# The step of the run's last checkpoint, 0 before the first.
last_step() {
    local metrics="$1/metrics.csv"
    if [[ -f "$1/checkpoint.safetensors" && -f "$metrics" ]]; then
        # Checkpoints are written every 50 steps and at the end of each phase.
        local step
        step=$(tail -n 1 "$metrics" | cut -d, -f1)
        echo $((step / 50 * 50))
    else
        echo 0
    fi
}

train() {
    local model="$1" config="$2" out="$3"
    for phase in "${phases[@]}"; do
        read -r planned until <<<"$phase"
        local done_steps
        done_steps=$(last_step "$out")
        ((done_steps >= until)) && continue
        # A resumed run reads its own config.toml.
        local start=(--config "$config")
        ((done_steps > 0)) && start=(--resume)
        "${tessera[@]}" pretrain "$model" --data songs wesnoth ufoai --out "$out" "${start[@]}" \
            --steps "$planned" --stop-after $((until - done_steps))
    done
}

cd "$data"
for run in "${runs[@]}"; do
    case "$run" in
    top1) train wav-jepa "$repo/assets/wav-jepa-tiny-top1/train.toml" runs/wav-jepa-tiny-top1 ;;
    nat) train wav-jepa-nat "$repo/assets/wav-jepa-nat-tiny/train.toml" runs/wav-jepa-nat-tiny ;;
    *) echo "unknown run $run (expected top1 or nat)" >&2 && exit 2 ;;
    esac
done
