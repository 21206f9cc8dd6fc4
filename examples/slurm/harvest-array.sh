#!/bin/bash
# A sharded harvest as a Slurm job array (docs/scale-out.md). Each array task harvests one contiguous range of the
# corpus's documents into $OUT/shard-IIII-of-NNNN/; safesail reads its shard from SLURM_ARRAY_TASK_ID and
# SLURM_ARRAY_TASK_COUNT (offsets such as --array=1-8 and steps such as --array=0-14:2 are handled). Then one job
# checks the shards and merges them into $OUT (examples/slurm/harvest-merge.sh), the store an unsharded harvest
# writes, byte for byte.
#
#   export MODEL=Qwen/Qwen2.5-7B-Instruct CORPUS=$PWD/data/corpus.jsonl OUT=$PWD/work/acts LAYERS=8,12,16
#   mkdir -p logs
#   jid=$(sbatch --parsable examples/slurm/harvest-array.sh)
#   sbatch --dependency=afterok:$jid examples/slurm/harvest-merge.sh
#
# Every task must see the same corpus and model and write to the same $OUT: a shared file system (NFS, Lustre,
# GPFS). Without one, copy the shard folders onto one machine and give them to `safesail harvest merge` by name.
# A task that is preempted or fails can be rerun as it is (`sbatch --array=3 ...`, or --requeue): the harvest
# resumes after its last complete chunk. The array size is the shard count: change --array and nothing else.
#
# Written from Slurm's documentation; not run on a real cluster here. What is tested (tests/shard.test.ts,
# tests/shard-cli.test.ts) is the same command with the variables Slurm sets, several processes side by side.
#SBATCH --job-name=safesail-harvest
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=12:00:00
#SBATCH --output=logs/harvest-%A_%a.out
# For a GPU per task (SAFESAIL_DEVICE=cuda, below): #SBATCH --gres=gpu:1
set -euo pipefail

MODEL=${MODEL:?set MODEL to a model folder or hub id}
CORPUS=${CORPUS:?set CORPUS to the corpus file (one document per line, or JSONL)}
OUT=${OUT:?set OUT to the store folder (on the shared file system)}
LAYERS=${LAYERS:-8,12,16}
SITE=${SITE:-mlp_out}

# Run from the safesail checkout (sbatch starts in the submission folder); `npm ci` was run there once.
cd "${SAFESAIL_DIR:-$SLURM_SUBMIT_DIR}"
# export SAFESAIL_DEVICE=cuda          # onnxruntime's CUDA execution provider, where it has one
# export HF_HOME=/shared/hf-cache      # one model download for every task

echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT on $(hostname)"
node bin/safesail.js harvest "$MODEL" --corpus "$CORPUS" --layers "$LAYERS" --site "$SITE" --out "$OUT"
