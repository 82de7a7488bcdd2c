"""The paper's protocol: CIFAR-10 / ResNet18, every field of a pipeline config (a GPU/TPU job).

  python launch.py --config configs/base.py --workdir /tmp/c10_r18 \
      --config.data.dir=$HOME/tensorflow_datasets

Every other config starts here and overrides what its experiment changes. Fields come in blocks,
one per concern; a block binds the workdir only when a configured stage reads it (see
``datadiet.stages.registry``), and ``runtime`` never does:

* ``data``: the dataset, its augmentation, batch order and label noise;
* ``model``: the architecture (``name``, its keyword arguments ``kwargs``) and compute dtype;
* ``optim``: the training recipe of every network the run trains (batch, budget, SGD, schedule);
* ``pretrain``: the scoring seeds; ``scores``: what is computed from them, and when;
* ``prune``: the subsets (methods × scores × fractions; each method's options in
  ``prune.kwargs.<method>``); ``retrain``: the fresh seeds and model trained on each;
* ``analyses.<name>``: the training-dynamics analyses, run when named in ``stages``;
* ``runtime``: how the run executes (devices, batch sizes of evaluation, logging, checkpoints,
  caches, processes), free to change between relaunches.

10 scoring seeds; EL2N and GraNd at initialisation and at epoch 20 (step 7,800), forgetting and
AUM at the end of the 78,000-step run (so the 10 scoring seeds train fully); subsets pruning
10–90% by keep-hardest, the offset band and CCS (cut by AUM, as published), and at random; 4 fresh seeds train the same 78,000 steps
(batch 128, SGD + Nesterov, lr 0.1 ×0.2 at 30/60/80% of the run, weight decay 5e-4) on each.
"""

import ml_collections
from ml_collections.config_dict import placeholder

from datadiet import pruning_methods


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  # 'pipeline': the stages below; 'train': pretraining alone (K seeds, checkpoints, test).
  config.job = 'pipeline'
  config.stages = ('pretrain', 'score', 'prune', 'retrain', 'report')
  config.data = dict(
      # A TFDS name ('cifar10', 'cifar100', 'mnist', ...), 'digits' (offline, bundled) or
      # 'image_folder:<path>'; dir is TFDS's data_dir.
      name='cifar10', dir=placeholder(str),
      # Images resized (shorter side to image_size / 0.875) and centre-cropped to image_size
      # for every use; None: as stored (one size).
      image_size=placeholder(int),
      # Training augmentation: 'pad_crop_flip', the paper's (reflect-pad 4, random crop,
      # horizontal flip); 'none'; 'resized_crop_flip', ImageNet's random-resized crop and flip
      # (input_pipeline='stream' with image_size).
      augment='pad_crop_flip',
      # pad_crop_flip's draws: the crop moves at most max_translate pixels (0-4; airbench: 2);
      # flip 'random' (each step) or 'alternating' (airbench: a draw per image in epoch 0, then
      # the opposite way in odd epochs, as in epoch 0 in even ones).
      max_translate=4, flip='random',
      # Test accuracy averaged over test-time views: 'none', 'flip' or 'flip_translate'
      # (airbench's: mirror and 1-pixel shifts). Scores never use them.
      test_augment='none',
      # Normalisation ((mean per channel), (std per channel)) in [0, 1] units; () = measured on
      # the training images (a pass over them when streamed).
      channel_stats=(),
      order_seed=0,  # Batch order and augmentation draws.
      label_noise_fraction=0.0, label_noise_seed=0)
  config.model = dict(
      name='resnet18',
      # Keyword arguments of the architecture named `name` (e.g. widths=(32, 64) for small_cnn);
      # other architectures of the run (compare_models, retrain.model) take their defaults.
      kwargs={},
      # Convolutions, dense layers and BatchNorm compute in this dtype ('float32' or 'bfloat16');
      # parameters, optimizer state, losses and scores stay float32.
      compute_dtype='float32')
  config.optim = dict(
      batch_size=128,
      # The paper fixes 78,000 steps (budget_unit='steps') for every subset size.
      budget=78_000, budget_unit='steps',
      learning_rate=0.1,
      schedule='piecewise',  # 'piecewise' | 'cosine' | 'onecycle' | 'linear' | 'constant'
      # Linear warm-up from warmup_init_factor × learning_rate over this fraction of the run;
      # the schedule spans the rest ('linear' decays to final_lr_factor × learning_rate).
      warmup_fraction=0.0, warmup_init_factor=0.0, final_lr_factor=0.0,
      lr_decay_fractions=(0.3, 0.6, 0.8), lr_decay_factor=0.2,  # Epochs 60, 120, 160 of 200.
      momentum=0.9, nesterov=True, weight_decay=5e-4,
      label_smoothing=0.0,  # Of the training loss only; evaluation and scores use plain CE.
      # Named groups of parameters, dict(params=<regex over 'a/b/c' paths>, lr_multiplier=<of
      # the gradient, not the weight decay>, train_fraction=<of the run, then frozen>), each
      # checked to match some of model.name's parameters and none another group matches; see
      # configs/cifar10_airbench.py.
      param_groups={},
      # A slow copy of params and BatchNorm statistics: every every_steps steps (0: off) it moves
      # 1 − decay·(t/T)^power of the way to the network, which restarts from it; the run ends on
      # it (airbench: 5, 0.95**5, 3).
      lookahead=dict(every_steps=0, decay=0.95**5, power=3.0))
  config.pretrain = dict(
      seeds=tuple(range(10)),
      # The scoring seeds' label smoothing when it differs from optim.label_smoothing (it
      # flattens the softmax that EL2N reads); None: the same.
      label_smoothing=placeholder(float))
  config.scores = dict(
      names=('el2n', 'grand', 'forgetting', 'aum', 'input_norm', 'random'),
      steps=(0, 7_800),  # Of the scoring seeds' run; 0 = initialisation.
      dtype='float32',  # Scores of a bfloat16-trained run are still float32 passes.
      random_seed=0,
      # Other architectures scored the same way, to compare rankings across models (transfer).
      compare_models=())
  config.prune = dict(
      # '<score>' (at prune.step), '<score>@<step>', or '<model>:<score>[@<step>]' to prune by
      # the scores of one of scores.compare_models.
      by=('el2n@7800', 'grand@7800', 'grand@0', 'forgetting@78000'),
      step=placeholder(int),  # Default: the last score step.
      methods=('keep_hardest', 'offset', 'ccs', 'random'),
      fractions=(0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9),
      # Single subsets beside methods × by × fractions: (method, '<score>[@<step>]' or '' for
      # a method without scores, fraction pruned), e.g. ('keep_hardest', 'el2n@24', 0.5).
      extra=(),
      seed=0,
      # Each method's options, from its registration (datadiet.pruning_methods).
      kwargs=pruning_methods.default_kwargs())
  # 'offset' also drops this fraction of the hardest: ≈ 500, the paper's best window on clean
  # data.
  config.prune.kwargs.offset.fraction = 0.01
  # CCS as published (Zheng et al. 2023): the hardest by AUM are cut, β per pruning rate; the
  # authors' code uses β = 0.3 at 90% on CIFAR-10 (the only entry taken here: enter the paper's
  # table as more (fraction pruned, β) pairs); other rates cut hard_cutoff.
  config.prune.kwargs.ccs.cutoff_score = 'aum'
  config.prune.kwargs.ccs.hard_cutoffs = ((0.9, 0.3),)
  config.retrain = dict(
      seeds=(100, 101, 102, 103),  # Fresh seeds, disjoint from the scoring seeds.
      model=placeholder(str),  # Default: model.name (another one: transfer).
      # Steps every retraining run trains (its schedule spans them) when they differ from
      # optim.budget's (the scoring seeds keep that); e.g. the budget sweep's choice.
      budget_steps=placeholder(int))
  config.analyses = dict(
      # Offset sweep: windows of `fraction_kept` of the training pool (a validation split held
      # out) after dropping the `offsets` (fractions) hardest by score@step, retrained with
      # retrain.seeds, with clean labels and with label noise.
      offset_sweep=dict(
          score='el2n', step=placeholder(int),  # Default: the last score step.
          fraction_kept=0.4, offsets=(0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6),
          random_window=True, validation_fraction=0.1, validation_seed=0,
          label_noise_fractions=(0.0, 0.1)),
      # CCS cutoff sweep: β per pruning rate chosen on a held-out validation split, as the CCS
      # paper tunes it: CCS subsets of the pool (prune.kwargs.ccs's num_strata and cutoff_score)
      # stratified by `score` ('<score>[@<step>]'; AUM, as CCS), each (rate, β) retrained with
      # retrain.seeds.
      ccs_cutoff_sweep=dict(
          score='aum', fractions_pruned=(0.5, 0.7, 0.9), hard_cutoffs=(0.0, 0.1, 0.2, 0.3, 0.4),
          validation_fraction=0.1, validation_seed=0),
      # Budget sweep: at each retraining budget (full-set epochs; every subset trains as many
      # steps) and fraction pruned, each method's subset of the pool (a validation split held
      # out) by `by` ('<score>[@<step>]'), retrained with retrain.seeds; the phase diagram of
      # each method minus random, and the method chosen on validation per cell (ties: the
      # first listed, simplest first).
      budget_sweep=dict(
          budgets=(2.5, 5.0, 10.0, 20.0), by='el2n',
          methods=('random', 'keep_hardest', 'offset', 'ccs'),
          fractions_pruned=(0.1, 0.3, 0.5, 0.7, 0.9), validation_fraction=0.1,
          validation_seed=0),
      # Error barriers: children of parent_seed spawned at spawn_steps (epochs 0–40), trained
      # to the end with child_seeds' data orders; training error along alphas on the
      # num_examples highest-, lowest- and random-score examples, BatchNorm statistics
      # recomputed from bn_batches batches (recompute_batch_stats=False: interpolated like the
      # weights, the naive line).
      error_barrier=dict(
          score='el2n', step=placeholder(int),
          spawn_steps=(0, 391, 782, 1_955, 3_910, 7_820, 15_640), parent_seed=0,
          child_seeds=(1000, 1001), num_examples=1000, subset_seed=0,
          alphas=(0.0, 0.25, 0.5, 0.75, 1.0), bn_batches=20, recompute_batch_stats=True),
      # NTK velocity: num_blocks blocks of block_size consecutive examples in the score@step
      # ranking, their Gram matrices at checkpoint_steps (every epoch for 10) of network
      # `seed`. method: 'auto' materialises the per-example Jacobian when it fits in
      # max_jacobian_mb, else uses Jacobian-vector products.
      ntk_velocity=dict(
          score='el2n', step=placeholder(int), seed=0,
          checkpoint_steps=tuple(391 * epoch for epoch in range(11)), block_size=100,
          num_blocks=25, method='auto', max_jacobian_mb=1024, chunk_size=16,
          label_noise_fractions=(0.0, 0.1)))
  config.runtime = dict(
      # How seeds share a device: 'auto' (unroll for CNNs, vmap for MLPs) | 'unroll' | 'vmap' |
      # 'map'.
      seed_strategy='auto',
      # How batches reach the accelerator: 'device' keeps the uint8 dataset in device memory
      # and augments inside the jitted step; 'tf_data' gathers and augments on host threads
      # (needs TensorFlow); 'auto' picks 'device' when the images fit device_data_max_fraction
      # of one accelerator's memory (always on CPU). Both give the same batches.
      # 'stream' reads every batch from disk (data larger than host memory; TFDS datasets
      # prepared as ArrayRecord, or image folders), each process only its devices' examples.
      input_pipeline='auto', device_data_max_fraction=0.25,
      # What 'stream' reads on: 'threads' (of the process), 'processes' (no GIL between them) or
      # 'auto' (processes on hosts of more than 4 CPUs); stream_readers of them (0: one per CPU).
      stream_workers='auto', stream_readers=0,
      eval_batch_size=1000, score_batch_size=1000,
      log_every_steps=100, eval_every_steps=0,
      # Checkpoints beyond those the stages need: at these steps (the train job) and every
      # checkpoint_every_steps (preemption safety; 0 = off).
      checkpoint_steps=(), checkpoint_every_steps=2_000,
      # TensorBoard event files beside metrics.jsonl (which is always written); they need
      # TensorFlow, imported only then.
      tensorboard=False,
      # Compiled programs are cached here (relative to the workdir unless absolute; '' = off),
      # so retraining runs after the first, and relaunches, skip compilation.
      compilation_cache_dir='jax_cache',
      # Multi-process runs (jax.distributed): start the same command once per host with
      # --config.runtime.distributed.enabled=True; unset fields are read from the cluster
      # (SLURM, Open MPI, Cloud TPU). Process 0 writes the shared artifacts; the workdir must
      # be on a shared filesystem.
      distributed=dict(enabled=False, coordinator_address='', num_processes=0, process_id=-1))
  return config
