#!/usr/bin/env bash
# The GPU checks, run on a lent CUDA machine (see README "GPU"): the CUDA tests (models, NCCL in a
# one-process group, streamed batches, the finiteness check every 25 steps), fp32 vs bf16 timings,
# a one-process NCCL run through torchrun, and a table of the results at the end.
# Extra arguments run as a command at the end (e.g. the quality benchmark).
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:src
export PYTHONUNBUFFERED=1 VAEGAN_DATA_DIR=$PWD/.device_data
OUT=${OUT:-/tmp/device_check}; mkdir -p "$OUT"
declare -a ROWS
row() { ROWS+=("| $1 | $2 |"); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

# 1. CUDA tests
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/training/test_cuda_scale.py 2>&1 | tail -8 | tee "$OUT/cuda_tests.txt"
row "CUDA tests (tests/test_cuda.py, tests/training/test_cuda_scale.py)" "$(tail -1 "$OUT/cuda_tests.txt")"

# 2. fp32 vs bf16: the conv VAE and the DCGAN in the Trainer, and the DCGAN against a hand loop (with torch.compile)
timeout 300 python3 benchmarks/throughput.py --sections precision,dcgan --device cuda --epochs 3 --limit 12800 \
  --compile --out-dir "$OUT/grids" 2>&1 | tee "$OUT/throughput.txt" | grep -E "^\|.*(precision=|Trainer|hand loop)" \
  | while IFS= read -r line; do echo "$line"; done > "$OUT/throughput_rows.txt"
while IFS= read -r line; do
  name=$(echo "$line" | cut -d'|' -f2 | xargs); speed=$(echo "$line" | cut -d'|' -f3 | xargs)
  ratio=$(echo "$line" | cut -d'|' -f4 | xargs); row "$name" "$speed samples/s, ratio $ratio"
done < "$OUT/throughput_rows.txt"
for p in 32 bf16; do
  python3 -m vaegan train --config configs/mnist_vae.yaml --epochs 2 --out "$OUT/vae_$p" --device cuda --overwrite \
    --set train.precision=$p --set train.progress=false --set train.tensorboard=false 2>&1 | tail -1 | tee "$OUT/vae_$p.txt"
  row "mnist_vae 2 epochs precision=$p" "$(tail -1 "$OUT/vae_$p.txt")"
done

# 3. one-process NCCL data-parallel run through torchrun (synced batch norm)
start=$(date +%s)
timeout 300 python3 -m torch.distributed.run --standalone --nproc-per-node=1 -m vaegan train \
  --config configs/mnist_gan.yaml --epochs 1 --out "$OUT/ddp_nccl" --device cuda --overwrite \
  --set train.sync_batchnorm=true --set train.progress=false --set train.tensorboard=false 2>&1 | tail -3 | tee "$OUT/ddp.txt"
status=${PIPESTATUS[0]}
row "torchrun --nproc-per-node=1, NCCL, mnist_gan 1 epoch" "exit $status in $(( $(date +%s) - start )) s; $(tail -1 "$OUT/ddp.txt")"

echo; echo "| check | result |"; echo "|---|---|"
printf '%s\n' "${ROWS[@]}" | tee "$OUT/table.md"
"$@"
