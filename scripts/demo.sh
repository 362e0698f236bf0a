#!/usr/bin/env bash
# `make demo`: train the book's VAE on Fashion-MNIST, then write samples, reconstructions and the latent scatter.
# Never deletes an earlier demo: without an argument it trains into runs/demo-vae-digits, or the first free
# runs/demo-vae-digits-N when that exists; a folder given as the argument (make demo DEMO_RUN=DIR) must not exist.
# GENZOO (the genzoo executable) and DEMO_EPOCHS come from the Makefile.
set -euo pipefail
GENZOO=${GENZOO:-genzoo}
EPOCHS=${DEMO_EPOCHS:-2}
BASE=runs/demo-vae-digits
run=${1:-}
if [ -n "$run" ]; then
    if [ -e "$run" ]; then
        echo "make demo: $run already exists (an earlier demo?); it is kept. Choose a new folder with" \
             "'make demo DEMO_RUN=runs/another', or delete the demo runs with 'make demo-clean'." >&2
        exit 2
    fi
else
    run=$BASE
    i=2
    while [ -e "$run" ]; do run=$BASE-$i; i=$((i + 1)); done
fi
echo "make demo: training into $run"
"$GENZOO" train vae-digits --epochs "$EPOCHS" --out "$run"
"$GENZOO" sample "$run" -n 64 --seed 0 --out "$run/samples/demo-samples.png"
"$GENZOO" analyze "$run" reconstructions
"$GENZOO" analyze "$run" latent-scatter
echo "Samples: $run/samples/demo-samples.png  Reconstructions: $run/analysis/reconstructions.png" \
     " Latent scatter: $run/analysis/latent-scatter.png"
