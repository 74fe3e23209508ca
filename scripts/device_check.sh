#!/usr/bin/env bash
# The GPU checks, run on a lent CUDA machine (see README "GPU"): the CUDA test file, a bf16 run
# of the default config on real MNIST, and the quality benchmark when asked for.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:src
export PYTHONUNBUFFERED=1 VAEGAN_DATA_DIR=$PWD/.device_data
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -5 | tee $OUT/cuda_tests.txt
for p in 32 bf16; do
  python3 -m vaegan.cli train --config configs/mnist_vae.yaml --epochs 2 --out $OUT/vae_$p --device cuda \
    --set train.precision=$p --set train.progress=false --set train.tensorboard=false 2>&1 | tail -1
done
"$@"
