#!/bin/bash
# The merge step of examples/slurm/harvest-array.sh: run after every array task has finished
# (sbatch --dependency=afterok:$jid examples/slurm/harvest-merge.sh). Checks the shard stores in $OUT (one per index
# 0..N-1, no gap, no overlap, each complete, the same model, site, layers, dtype, corpus and settings) and writes the
# merged store into $OUT itself; errors name the shard folder and the field. The shard folders are kept: delete them
# once the merged store has been checked (e.g. `npx safesail train-sae ...` reads it).
#
# Written from Slurm's documentation; not run on a real cluster here (see docs/scale-out.md).
#SBATCH --job-name=safesail-harvest-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=4G
#SBATCH --time=02:00:00
#SBATCH --output=logs/harvest-merge-%j.out
set -euo pipefail

OUT=${OUT:?set OUT to the store folder the array tasks wrote into}
cd "${SAFESAIL_DIR:-$SLURM_SUBMIT_DIR}"
node bin/safesail.js harvest merge --out "$OUT"
