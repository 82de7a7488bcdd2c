"""Train K seeds as one ensemble (the training engine alone), CPU-sized by default.

  python launch.py --config configs/train.py --workdir /tmp/datadiet_train

Four small CNNs on the offline digits dataset for 10 epochs each. The paper's CIFAR-10 recipe:

  python launch.py --config configs/train.py --workdir /tmp/r18 --config.dataset=cifar10 \
      --config.model=resnet18 --config.budget=78000 --config.budget_unit=steps \
      --config.augment=True
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = 'train'
  config.dataset = 'digits'
  config.data_dir = ml_collections.config_dict.placeholder(str)
  config.model = 'small_cnn'
  config.seeds = (0, 1, 2, 3)
  # How seeds share a device: 'auto' (unroll for CNNs, vmap for MLPs) | 'unroll' | 'vmap' | 'map'.
  config.seed_strategy = 'auto'
  config.data_seed = 0
  # The paper's augmentation (reflect-pad 4, random crop, horizontal flip): on for CIFAR-like
  # images; off by default because flipped or shifted 8×8 digits are different digits.
  config.augment = False
  config.batch_size = 128
  config.eval_batch_size = 512
  # Mixed precision: convolutions, dense layers and BatchNorm compute in this dtype ('float32' or
  # 'bfloat16'); parameters, optimizer state, losses and scores stay float32.
  config.compute_dtype = 'float32'
  # How batches reach the accelerator: 'device' keeps the uint8 dataset in device memory and
  # augments inside the jitted step; 'tf_data' gathers and augments on host threads (needs
  # TensorFlow); 'auto' picks 'device' when the images fit device_data_max_fraction of one
  # accelerator's memory (always on CPU). Both give the same batches.
  config.input_pipeline = 'auto'
  config.device_data_max_fraction = 0.25
  # Budget: the paper fixes 78,000 steps (budget_unit='steps') for every subset size.
  config.budget_unit = 'epochs'
  config.budget = 10
  config.learning_rate = 0.1
  config.schedule = 'piecewise'  # 'piecewise' | 'cosine' | 'onecycle' | 'constant'
  config.lr_decay_fractions = (0.3, 0.6, 0.8)  # Epochs 60, 120, 160 of 200.
  config.lr_decay_factor = 0.2
  config.momentum = 0.9
  config.nesterov = True
  config.weight_decay = 5e-4
  config.label_noise_fraction = 0.0
  config.label_noise_seed = 0
  config.checkpoint_steps = ()
  config.checkpoint_every_steps = 0
  config.log_every_steps = 10
  config.eval_every_steps = 0
  config.tensorboard = True
  # Compiled programs are cached here (relative to the workdir unless absolute; '' = off), so
  # retraining runs after the first, and relaunches, skip compilation.
  config.compilation_cache_dir = 'jax_cache'
  # Multi-process runs (jax.distributed): start the same command once per host with
  # --config.distributed.enabled=True; unset fields are read from the cluster (SLURM, Open MPI,
  # Cloud TPU). Process 0 writes the shared artifacts; the workdir must be on a shared filesystem.
  config.distributed = ml_collections.ConfigDict(dict(
      enabled=False, coordinator_address='', num_processes=0, process_id=-1))
  return config
