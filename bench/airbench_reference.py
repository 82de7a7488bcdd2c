"""A short airbench run of this engine, exported step by step for a comparison with airbench's own
PyTorch code (K. Jordan's cifar10-airbench, run outside this project; not part of it).

  python bench/airbench_reference.py --out=/tmp/airbench_engine.npz --steps=40 --batch=128

Trains one seed of ``configs/cifar10_airbench.py`` in float32 on CIFAR-10 with the engine's own
jitted step (whitening fitted to 5,000 training images, parameter groups, label smoothing,
lookahead, translate-by-2 and the alternating flip), over a schedule of ``--steps`` steps of
``--batch`` (the learning rate scaled by batch / 1,024: airbench's is per example of a summed
loss). It writes everything a reference implementation needs to run the same steps from the
same start, and what the engine computed:

* ``fit_images`` (the normalised images the whitening was fitted to) and the fitted kernel;
* the initial ``params/…``, ``batch_stats/…`` (flattened Flax paths);
* every step's normalised, augmented ``images`` (NHWC) and ``labels``;
* the engine's per-step ``losses`` (mean label-smoothed loss), the learning-rate factor of each
  step, and the parameters and BatchNorm statistics after the steps in ``--snapshots``;
* ``test_images`` and the final network's ``test_logits`` with test-time augmentation.

The comparison (``bench/results/airbench_reference_cpu.json``; ``docs/fast_recipe.md`` says how
it was made) loads this file next to airbench's network, optimizer groups, schedule and
``LookaheadState``, copies the initial weights into it and feeds it the same batches.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import cifar10_airbench  # noqa: E402
from datadiet.data import augment, feed, normalization, sources, train_order  # noqa: E402
from datadiet.train import ensemble, loop, optim  # noqa: E402

_DATA = flags.DEFINE_string('data', '../shared/datasets/cifar10_jpeg', 'CIFAR-10 image folder.')
_OUT = flags.DEFINE_string('out', '/tmp/airbench_engine.npz', 'The exported run.')
_STEPS = flags.DEFINE_integer('steps', 40, 'The schedule\'s length, all of it run.')
_BATCH = flags.DEFINE_integer('batch', 128, 'Examples per step.')
_SNAPSHOTS = flags.DEFINE_list('snapshots', ['1', '5', '10', '20', '40'],
                               'Steps after which the parameters are exported.')
_TEST = flags.DEFINE_integer('test_examples', 500, 'Test images whose logits are exported.')


def _flat(tree, prefix: str) -> dict[str, np.ndarray]:
  return {f'{prefix}/{optim.parameter_path(path)}': np.asarray(leaf)
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def main(argv):
  del argv
  config = cifar10_airbench.get_config()
  config.data.name = f'image_folder:{Path(_DATA.value).resolve()}'
  config.model.compute_dtype = 'float32'
  config.optim.batch_size = _BATCH.value
  config.optim.budget = _STEPS.value
  config.optim.learning_rate *= _BATCH.value / 1024
  data = sources.load(config.data.name)
  run = loop.setup(config, data, [0])
  state = run.state
  order = train_order.TrainOrder(run.positions, [0], _BATCH.value, config.data.order_seed,
                                 augment=True, **train_order.crop_flip_options(config.data))
  table, batches = feed.train_batches('device', data, data.train['label'], order, 0,
                                      _STEPS.value, ensemble.batch_sharding(run.mesh))
  step_fn = ensemble.make_train_step(run.model, run.optimizer, run.mesh, run.strategy, run.stats,
                                     loss_fn=optim.training_loss(config), lookahead=run.lookahead)
  inputs = jax.jit(lambda b, t: feed.model_inputs(b, t, run.stats))
  host = jax.device_get(state)
  out = {**_flat(jax.tree.map(lambda x: x[0], host.params), 'params'),
         **_flat(jax.tree.map(lambda x: x[0], host.batch_stats), 'batch_stats'),
         'whitening_kernel': np.asarray(host.constants['whiten']['kernel'][0]),
         'fit_images': feed.fit_images(data, run.positions, run.model.fit_examples, run.stats)}
  schedule = optim.make_schedule(config, _STEPS.value)
  images, labels, losses = [], [], []
  snapshots = {int(s) for s in _SNAPSHOTS.value}
  for step, batch in enumerate(batches, start=1):
    x, y = inputs(jax.tree.map(lambda a: a[0], batch), table)
    images.append(np.asarray(x))
    labels.append(np.asarray(y))
    state, metrics = step_fn(state, batch, table)
    losses.append(float(np.asarray(metrics['loss'])[0]))
    if step in snapshots:
      after = jax.device_get(state)
      out.update(_flat(jax.tree.map(lambda x: x[0], after.params), f'after_{step}/params'))
      out.update(_flat(jax.tree.map(lambda x: x[0], after.batch_stats),
                       f'after_{step}/batch_stats'))
    print(f'step {step}: loss {losses[-1]:.5f}', flush=True)
  final = jax.device_get(state)
  variables = jax.tree.map(lambda x: x[0], ensemble.model_variables(final.params, final.batch_stats,
                                                              final.constants))
  test = normalization.normalize(data.test['image'][:_TEST.value], run.stats)
  logits = augment.averaged_logits(lambda x: run.model.apply(variables, x, train=False), test,
                                   'flip_translate')
  out.update(images=np.stack(images), labels=np.stack(labels), losses=np.array(losses),
             lr=np.array([float(schedule(s)) for s in range(_STEPS.value)]),
             test_images=test, test_logits=np.asarray(logits),
             settings=np.array([_STEPS.value, _BATCH.value, config.optim.learning_rate,
                                config.optim.weight_decay]))
  np.savez(_OUT.value, **out)
  print(f'Wrote {_OUT.value}: {_STEPS.value} steps of {_BATCH.value}.')


if __name__ == '__main__':
  app.run(main)
