"""K seeds trained as one ensemble: stacked state, sharded over a ``seeds`` mesh axis.

Every leaf of :class:`EnsembleState` has a leading seed axis of size K. The devices form a
``jax.sharding.Mesh`` of shape ``(seeds, data)``: the seed axis of the state is split over
``seeds`` (as many devices as divide K), and each seed's batch over ``data`` (the remaining
devices), with gradients and BatchNorm statistics averaged over ``data`` so the update equals a
single device's. The step is a ``shard_map``, so the same code runs on one CPU, N forced CPU
devices or a GPU/TPU host. Within a device, the local seeds run as chosen by ``strategy``:

* ``'vmap'`` batches them: good for MLPs, but every convolution becomes a grouped convolution,
  which XLA runs slowly on CPU and GPU;
* ``'unroll'`` traces one copy of the step per local seed in the same program: ordinary
  convolutions, and XLA may overlap the copies;
* ``'map'`` runs them one after another with ``lax.map`` (compiles once, whatever K).
* ``'auto'`` picks by model kind, from measurements (:func:`resolve_strategy`).

Measured on CPU (2 cores, ``bench/training.py``; small CNN, K = 4, batch 128 per seed), one
ensemble step against 4 sequential single-seed steps: ``unroll`` 1.29× faster, ``vmap`` 0.31×,
``map`` 0.05× (a convolution's backward pass inside a loop body runs ~30× slower on XLA:CPU).
On one H100 (``bench/gpu.py``, 4 seeds × 128;
``bench/results/gpu_NVIDIA_H100_80GB_HBM3_ensemble.md``): ResNet18 ``unroll`` 23,300
images/s, ``vmap`` 9,100, one seed alone 20,400 (float32; bfloat16 37,400, 24,700, 28,800);
the MLP ``vmap`` 1.68 M, ``unroll`` 0.98 M.

Steps are pure functions over the state, jitted with the state donated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from datadiet import errors, multihost
from datadiet import seed_axis
from datadiet.data import augment, feed
from datadiet.data.normalization import ChannelStats
from datadiet.scores import softmax_cross_entropy
from datadiet.scores.losses import LogitLossFn
from datadiet.scores.trackers import Tracker
from datadiet.train.lookahead import Lookahead

STRATEGIES = seed_axis.STRATEGIES
STRATEGY_CHOICES = STRATEGIES + ('auto',)
SEEDS = 'seeds'
DATA = 'data'  # Also the BatchNorm axis name the engine builds its models with.


@flax.struct.dataclass
class EnsembleState:
  """Training state of K models; every leaf has a leading seed axis."""
  step: jax.Array  # (K,) int32; equal across seeds.
  params: Any
  batch_stats: Any
  opt_state: Any
  trackers: dict[str, Any]  # Training-time statistics by tracker name; empty unless asked for.
  # The model's constants fitted to data (airbench's whitening kernel): read, never trained.
  constants: Any
  lookahead: dict  # Lookahead's slow copy of params and batch_stats; empty when off.


def model_variables(params: Any, batch_stats: Any, constants: Any) -> dict[str, Any]:
  """One model's Flax variables from its state's parts (every collection the model reads)."""
  return {'params': params, 'batch_stats': batch_stats, 'constants': constants}


def make_mesh(num_seeds: int, batch_size: int | None = None,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A ``(seeds, data)`` mesh over all devices: ``gcd(K, #devices)`` on ``seeds``, the rest on
  ``data`` (only when ``batch_size`` is given; else a single row of devices).

  Raises:
    ValueError: the per-seed batch does not split evenly over the ``data`` axis.
  """
  devices = list(jax.devices() if devices is None else devices)
  seeds = math.gcd(num_seeds, len(devices))
  data = len(devices) // seeds if batch_size is not None else 1
  mesh = Mesh(np.array(devices[:seeds * data]).reshape(seeds, data), (SEEDS, DATA))
  if batch_size is not None:
    check_batch_split(batch_size, mesh)
  return mesh


def check_batch_split(batch_size: int, mesh: Mesh, field: str = 'optim.batch_size') -> None:
  """Raises an InputError unless a per-seed batch of ``batch_size`` (``config.<field>``) splits
  evenly over the ``data`` axis of ``mesh``."""
  data = mesh.shape[DATA]
  if batch_size % data:
    raise errors.InputError(
        f'config.{field} {batch_size} does not split over the {data} devices of the data axis '
        f'({mesh.devices.size} devices, {mesh.shape[SEEDS]} of them for the seeds); use a '
        f'multiple of {data}.')


def mesh_of(state: EnsembleState) -> Mesh:
  """The mesh an ensemble state is sharded over."""
  return state.step.sharding.mesh


def check_strategy(strategy: str) -> None:
  """Raises an InputError naming the valid seed strategies if ``strategy`` is not one."""
  if strategy not in STRATEGY_CHOICES:
    raise errors.InputError(
        f'Unknown seed strategy {strategy!r} (config.runtime.seed_strategy); valid: '
        f'{", ".join(STRATEGY_CHOICES)}.')


def resolve_strategy(strategy: str, params: Any) -> str:
  """``'auto'`` → ``'unroll'`` for a model with convolutions, ``'vmap'`` for one of dense layers
  only; other names are returned as they are, if valid. The same on every backend: vmapped
  convolutions become slow grouped convolutions on CPU and GPU (measured; TPU assumed alike,
  not measured), and vmapped dense layers one batched matmul (measured on CPU and GPU)."""
  check_strategy(strategy)
  if strategy != 'auto':
    return strategy
  # Stacked params carry the seed axis: a conv kernel has ndim >= 4 here, a dense one 3.
  has_conv = any(leaf.ndim > 3 for leaf in jax.tree.leaves(params))
  return 'unroll' if has_conv else 'vmap'


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Training batches ``(K, B, ...)``: seeds over ``seeds``, examples over ``data``."""
  return NamedSharding(mesh, P(SEEDS, DATA))


def eval_sharding(mesh: Mesh) -> NamedSharding:
  """Evaluation batches ``(B, ...)``, shared by the seeds: examples over ``data`` (each process
  reads, and each device evaluates, only its share)."""
  return NamedSharding(mesh, P(DATA))


def init_ensemble(model: nn.Module, optimizer: optax.GradientTransformation,
                  seeds: Sequence[int], sample_image: np.ndarray, num_train: int,
                  mesh: Mesh, trackers: Sequence[Tracker] = (),
                  constants: Sequence[Any] | None = None,
                  lookahead: Lookahead | None = None) -> EnsembleState:
  """Initialises K models from ``jax.random.key(seed)``, sharded over ``mesh``, with fresh
  ``trackers`` over the ``num_train`` training examples; ``constants`` (one per seed) replace
  the ``constants`` collection that ``init`` fits to ``sample_image`` (airbench's whitening,
  refitted to the run's training images); ``lookahead`` starts its slow copy when on."""
  lookahead = lookahead or Lookahead.off()

  def init_one(seed, fitted):
    variables = model.init(jax.random.key(seed), jnp.asarray(sample_image)[None], train=False)
    params, batch_stats = variables['params'], variables.get('batch_stats', {})
    return EnsembleState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=batch_stats,
                         opt_state=optimizer.init(params),
                         trackers={t.name: t.init(num_train) for t in trackers},
                         constants=variables.get('constants', {}) if fitted is None else fitted,
                         lookahead=lookahead.init(params, batch_stats))

  replicated = NamedSharding(mesh, P())
  seeds = multihost.to_device(np.asarray(seeds, np.uint32), replicated)
  fitted = (None if constants is None else
            multihost.to_device(jax.tree.map(lambda *c: np.stack(c), *constants), replicated))
  return jax.jit(jax.vmap(init_one), out_shardings=NamedSharding(mesh, P(SEEDS)))(seeds, fitted)


def make_train_step(model: nn.Module, optimizer: optax.GradientTransformation, mesh: Mesh,
                    strategy: str, stats: ChannelStats,
                    trackers: Sequence[Tracker] = (),
                    loss_fn: LogitLossFn = softmax_cross_entropy,
                    lookahead: Lookahead | None = None) -> Callable:
  """``(state, batch, table) -> (state, metrics)`` for all seeds; batch leaves are
  ``(K, B, ...)``: uint8 images and labels, or positions (and augmentation draws) into the
  device copy ``table`` (see :func:`datadiet.data.feed.model_inputs`); ``stats`` normalise.

  ``trackers`` (those of ``init_ensemble``) observe every batch's logits; ``loss_fn`` is the
  per-example training loss (e.g. label-smoothed); ``lookahead`` (that of ``init_ensemble``)
  moves its slow copy after the optimizer's update. Metrics per seed:
  ``loss`` (mean training loss) and ``accuracy`` on the training batch. The
  model must average its BatchNorm statistics over the ``data`` axis (build it with
  ``batch_norm_axis_name=DATA``) when that axis has more than one device.
  """
  if mesh.shape[DATA] > 1 and getattr(model, 'batch_norm_axis_name', DATA) != DATA:
    raise errors.InputError(f'The batch is split over {mesh.shape[DATA]} devices but the model '
                            f'normalises per device; build it with batch_norm_axis_name={DATA!r}.')
  lookahead = lookahead or Lookahead.off()

  def seed_step(state: EnsembleState, batch: dict, table: dict) -> tuple[EnsembleState, dict]:
    images, labels = feed.model_inputs(batch, table, stats)

    def mean_loss(params):
      logits, updates = model.apply(model_variables(params, state.batch_stats, state.constants),
                                    images, train=True, mutable=['batch_stats'])
      return loss_fn(logits, labels).mean(), (logits, updates)

    (loss, (logits, updates)), grads = jax.value_and_grad(mean_loss, has_aux=True)(state.params)
    # This device holds 1/|data| of the seed's batch: average as over the whole batch.
    grads, loss = jax.lax.pmean((grads, loss), DATA)
    param_updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    correct = jnp.argmax(logits, -1) == labels
    observed = {t.name: t.observe(logits, labels) for t in trackers}
    # Every data shard keeps the full trackers, so each applies every shard's observations.
    all_indices, all_correct, all_observed = jax.lax.all_gather(
        (batch['index'], correct, observed), DATA, tiled=True)
    step = state.step + 1
    slow, params, batch_stats = lookahead.update(
        state.lookahead, optax.apply_updates(state.params, param_updates),
        updates.get('batch_stats', state.batch_stats), step)
    new_state = EnsembleState(
        step=step, params=params, batch_stats=batch_stats, opt_state=opt_state,
        trackers={t.name: t.update(state.trackers[t.name], all_indices, all_observed[t.name])
                  for t in trackers},
        constants=state.constants, lookahead=slow)
    return new_state, {'loss': loss, 'accuracy': jnp.mean(all_correct)}

  def local_step(state, batch, table):  # The table is shared by the local seeds.
    return seed_axis.map_over_seeds(lambda s, b: seed_step(s, b, table), strategy)(state, batch)

  sharded = jax.shard_map(local_step, mesh=mesh, in_specs=(P(SEEDS), P(SEEDS, DATA), P()),
                          out_specs=P(SEEDS), check_vma=False)
  return jax.jit(sharded, donate_argnums=0)


def make_eval_step(model: nn.Module, mesh: Mesh, strategy: str, stats: ChannelStats,
                   test_augment: str = 'none') -> Callable:
  """``(state, batch, table) -> {loss_sum, correct}`` per seed for one batch that every seed
  evaluates (raw, as in :func:`make_train_step`, with a ``mask``), its examples split over the
  ``data`` axis (:func:`eval_sharding`); ``test_augment`` averages the logits over test-time
  views (:func:`datadiet.data.augment.test_views`).

  Made once per distinct set of arguments (the last 8): the retraining runs of a pipeline
  (every subset, the same network) share one trace and compilation instead of one per run. A
  model with an unhashable field gets a step of its own."""
  arguments = (model, mesh, strategy, stats, test_augment)
  try:
    hash(arguments)
  except TypeError:
    return _make_eval_step(*arguments)
  return _shared_eval_step(*arguments)


def _make_eval_step(model: nn.Module, mesh: Mesh, strategy: str, stats: ChannelStats,
                    test_augment: str) -> Callable:

  augment.check_test_augment(test_augment)  # Before training, not at its end.

  def seed_eval(params, batch_stats, constants, images, labels, mask):
    variables = model_variables(params, batch_stats, constants)
    logits = augment.averaged_logits(lambda x: model.apply(variables, x, train=False), images,
                                     test_augment)
    losses = softmax_cross_entropy(logits, labels)
    correct = (jnp.argmax(logits, -1) == labels) & mask
    return {'loss_sum': jnp.sum(jnp.where(mask, losses, 0.0)), 'correct': jnp.sum(correct)}

  def local_eval(state, batch, table):
    images, labels = feed.model_inputs(batch, table, stats)
    per_seed = seed_axis.map_over_seeds(
        lambda p, s, c: seed_eval(p, s, c, images, labels, batch['mask']), strategy)
    # Summed over this seed's data shards.
    return jax.lax.psum(per_seed(state.params, state.batch_stats, state.constants), DATA)

  sharded = jax.shard_map(local_eval, mesh=mesh, in_specs=(P(SEEDS), P(DATA), P()),
                          out_specs=P(SEEDS), check_vma=False)
  return jax.jit(sharded)


_shared_eval_step = functools.lru_cache(maxsize=8)(_make_eval_step)
