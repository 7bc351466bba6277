#!/bin/bash
# The PaC-HuBERT experiment of RESULTS.md (issue 7): the paper's Table 2 and the second
# iteration (2SSL) on our data, at Tiny scale. Resumable: every step skips what is done and
# an interrupted training run resumes from its last checkpoint.
#
#   cargo build --release -p tessera-train
#   experiments/pac-hubert/run.sh [DATA_DIR]      # default: data/pac-hubert
#
# Needs the separator's songs in $SEP (made as in assets/separator-tiny/MODEL_CARD.md, "Data")
# and Wesnoth's music (Debian package wesnoth-1.16-music). About 3 hours on 2 cores.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
T=${TESSERA:-$HERE/../../target/release/tessera}
SEP=${SEP:-data/sep}
WESNOTH=${WESNOTH:-/usr/share/games/wesnoth/1.16/data/core/music}
WORK=${1:-data/pac-hubert}
SEP=$(realpath "$SEP")
mkdir -p "$WORK/audio/mixtures" "$WORK/runs" "$WORK/eval"
cd "$WORK"

# Pretraining audio: Wesnoth's recorded music and the 64 training songs' mixtures.
[ -e audio/wesnoth ] || ln -s "$WESNOTH" audio/wesnoth
for song in "$SEP"/train/*/song_*; do
  link=audio/mixtures/$(basename "$(dirname "$song")")_$(basename "$song").wav
  [ -e "$link" ] || ln -s "$song/mixture.wav" "$link"
done

# Iteration 1: k-means of the 48-dim primitive features (Separator-Tiny's STFT hop), then
# masked unit prediction.
[ -f feats/primitive_features.json ] || $T features primitive --data audio --out feats --hop 512
[ -f centroids.safetensors ] || $T cluster fit --features feats --k 256 --max-vectors 200000 --n-init 1 --out centroids.safetensors
[ -d labels ] || $T cluster assign --features feats --centroids centroids.safetensors --out labels
pretrain() {  # RUN LABELS
  [ -f runs/$1/model.safetensors ] && return 0
  if [ -f runs/$1/checkpoint.safetensors ]; then
    $T pretrain pac-hubert --data audio --labels $2 --out runs/$1 --resume
  else
    $T pretrain pac-hubert --data audio --labels $2 --out runs/$1 --steps 400
  fi
}
pretrain pac-hubert labels

# Iteration 2 (2SSL): k-means of the middle bottleneck block (2 of Tiny's 4, as the paper
# takes 6 of 12) of the first model, and a new model pretrained from scratch on those labels.
[ -f feats2/pac_hubert_features.json ] || $T features pac-hubert --model runs/pac-hubert/model.safetensors --layer 2 --data audio --out feats2
[ -f centroids2.safetensors ] || $T cluster fit --features feats2 --k 256 --max-vectors 200000 --n-init 1 --out centroids2.safetensors
[ -d labels2 ] || $T cluster assign --features feats2 --centroids centroids2.safetensors --out labels2
pretrain pac-hubert-2 labels2

# Table 2: Separator-Tiny fine-tuned on 25, 50 and 100 % of the training songs from scratch
# and from each pretrained model, scored on the 16 test songs (SoundFonts no run heard).
finetune() {  # NAME FRACTION [INIT]
  local out=runs/$1 extra=()
  [ $# -ge 3 ] && extra=(--init "$3")
  if [ ! -f $out/model.safetensors ]; then
    if [ -f $out/checkpoint.safetensors ]; then
      $T finetune separator --songs "$SEP/train" --valid "$SEP/valid" --out $out --resume
    else
      $T finetune separator --songs "$SEP/train" --valid "$SEP/valid" --config "$HERE/finetune.toml" \
        --fraction $2 --out $out "${extra[@]}"
    fi
  fi
  [ -f eval/$1.json ] || $T eval sdr --set "$SEP/test" --model $out/model.safetensors --out eval/$1.json
}
for f in 25 50 100; do
  fraction=$(echo "scale=2; $f/100" | bc)
  finetune scratch-$f $fraction
  finetune ssl-$f $fraction runs/pac-hubert/model.safetensors
done
# The second iteration where labelled data is scarcest (25 %), as time allowed.
finetune ssl2-25 .25 runs/pac-hubert-2/model.safetensors
