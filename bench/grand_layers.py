"""Where GraNd's time goes: the fast path against the passes it is made of, and every layer
geometry's per-example norm forms as ``norm_method='measure'`` timed them.

  python bench/grand_layers.py                 # ResNet50 (ImageNet stem), 224², batch 256
  python bench/grand_layers.py --model=resnet18 --batch=512   # CIFAR-10's ResNet18, 32²
  python bench/grand_layers.py --smoke         # the same code on a CPU, tiny model (~1 min)

``--argument_memory_ratio`` overrides ``norm_tuning.ARGUMENT_MEMORY_RATIO`` for the process, so
``measure`` also times forms whose planned memory the default budget leaves out; each row
records the ratio it ran under.

For each compute dtype (float32, the default ``config.scores.dtype``, then bfloat16), in eval
mode, on random images and labels, median seconds per batch of:

* ``forward``: the logits;
* ``input_backward``: forward and backward to the input, no parameter gradient: the activation
  gradients GraNd's one backward pass computes anyway;
* ``param_backward``: forward and backward to the parameters (a training step's gradient);
* ``grand_<method>``: :func:`datadiet.scores.grand_linen.grand_linen` with ``norm_method``
  ``measure`` (what a GPU run uses; first), ``flops`` and ``materialize`` (last).

Then one row per Dense/Conv geometry: how many layers share it, each form's seconds as
``measure`` timed it (and its planned bytes), and the chosen form's seconds × layers over the
GraNd step's. Each form is timed alone, outside the step, where XLA schedules and fuses it with
the backward pass: these ratios rank the layers, but overstate each one's cost inside the step,
and need not add up with ``input_backward`` to the step.

Prints JSON lines and a markdown summary, and writes both to ``--out``
(``grand_layers_<device>[_resnet18][_amr<ratio>].jsonl`` / ``.md``) after every row, so a
cut-off lease keeps what finished. Needs jax, flax, optax, ml-collections and numpy; no
TensorFlow.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import inspect
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import timing
from absl import app, flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # The configs package, as launch.py sees it.

from configs import cifar10_resnet18, imagenet_resnet50  # noqa: E402
from datadiet import models  # noqa: E402
from datadiet.scores import losses, norm_tuning  # noqa: E402
from datadiet.scores.grand_linen import grand_linen  # noqa: E402

_OUT = flags.DEFINE_string('out', str(ROOT / 'bench' / 'results'), 'Where results are written.')
_BATCH = flags.DEFINE_integer('batch', 256, 'Examples per GraNd step.')
_DTYPES = flags.DEFINE_list('dtypes', ['float32', 'bfloat16'], 'Compute dtypes, in order.')
_METHODS = flags.DEFINE_list('methods', ['flops', 'materialize'],
                             'GraNd norm methods timed after measure and the reference passes.')
_MIN_SECONDS = flags.DEFINE_float('min_seconds', 1.0, 'Time each pass this long.')
_DEADLINE = flags.DEFINE_float('deadline_s', None,
                               'Start no measurement after this many seconds from launch.')
_MODEL = flags.DEFINE_enum('model', 'resnet50', ['resnet50', 'resnet18'],
                           "resnet50: the ImageNet config's, 224²; resnet18: CIFAR-10's, 32².")
_ARGUMENT_MEMORY_RATIO = flags.DEFINE_float(
    'argument_memory_ratio', None, 'Overrides norm_tuning.ARGUMENT_MEMORY_RATIO (which forms '
    "'measure' may run, by planned memory) to time forms the default budget leaves out.")
_SMOKE = flags.DEFINE_bool('smoke', False, 'A narrow ResNet18 on 16×16 images (a CPU).')
_START = time.perf_counter()


def _model_and_data(dtype: str):
  """The ImageNet config's ResNet50, CIFAR-10's ResNet18 (or the smoke's CNN), its eval-mode
  variables, one batch."""
  if _SMOKE.value:
    model = models.get_model('resnet18', num_classes=10, dtype=dtype, widths=(8, 16, 16, 16))
    shape, classes = (16, 16, 3), 10
  elif _MODEL.value == 'resnet18':
    model = models.from_config(cifar10_resnet18.get_config(), 10, dtype=dtype)
    shape, classes = (32, 32, 3), 10
  else:
    config = imagenet_resnet50.get_config()
    model = models.from_config(config, 1000, dtype=dtype)
    shape, classes = (config.data.image_size, config.data.image_size, 3), 1000
  rng = np.random.default_rng(0)
  images = jnp.asarray(rng.standard_normal((_BATCH.value,) + shape, np.float32))
  labels = jnp.asarray(rng.integers(0, classes, _BATCH.value), jnp.int32)
  variables = jax.jit(functools.partial(model.init, train=False))(jax.random.key(0), images[:1])
  return model, variables, images, labels


def _passes(model):
  """``{name: fn(variables, images, labels)}`` for the reference passes."""

  def loss(variables, images, labels):
    logits = model.apply(variables, images, train=False)
    return jnp.sum(losses.softmax_cross_entropy(logits, labels))

  def param_backward(variables, images, labels):
    return jax.grad(lambda params: loss({**variables, 'params': params}, images, labels))(
        variables['params'])

  return dict(forward=lambda v, x, y: model.apply(v, x, train=False),
              input_backward=jax.grad(loss, argnums=1), param_backward=param_backward)


def _grand(model, norm_method):
  return lambda v, x, y: grand_linen(model, v, x, y, apply_kwargs={'train': False},
                                     norm_method=norm_method)


def _layer_rows(dtype: str, layer_counts: dict, grand_seconds: float) -> list[dict]:
  rows = []
  for entry in norm_tuning.measurements():
    shapes = (entry['layer'], tuple(entry['inputs']), tuple(entry['output_grads']))
    if entry['dtype'] != dtype or shapes not in layer_counts:
      continue
    count = layer_counts[shapes]
    chosen = entry['seconds'][entry['chosen']]
    geometry = ast.literal_eval(entry['layer'][2])
    label = (f"{'×'.join(map(str, geometry['kernel_size']))} /{geometry['strides'][0]}"
             if geometry else '')
    rows.append(dict(
        measurement='layer', dtype=dtype, layer=f'{entry["layer"][0]} {label}',
        geometry=entry['layer'][2], inputs=list(entry['inputs']),
        output_grads=list(entry['output_grads']), layers=count, chosen=entry['chosen'],
        # JSON has no infinity: a form that ran out of memory, or did not compile, says so.
        seconds={f: 'out_of_memory' if t == float('inf') else t
                 for f, t in entry['seconds'].items()},
        planned_bytes={f: 'not_compiled' if b == float('inf') else b
                       for f, b in entry['planned_bytes'].items()},
        chosen_seconds_total=count * chosen, alone_vs_grand_step=count * chosen / grand_seconds))
  return rows


def _layer_counts(model, variables, images, labels) -> dict:
  """How many layers share each measured geometry and shapes: one more trace under 'measure'
  (cached choices, so nothing is timed again), counting what ``norm_tuning.choose`` is asked."""
  counts: dict = {}
  choose = norm_tuning.choose

  def counting(*args, **kwargs):
    given = inspect.signature(choose).bind(*args, **kwargs).arguments
    shapes = (given['key'], tuple(given['inputs'].shape), tuple(given['output_grads'].shape))
    counts[shapes] = counts.get(shapes, 0) + 1
    return choose(*args, **kwargs)

  norm_tuning.choose = counting
  try:
    jax.eval_shape(_grand(model, 'measure'), variables, images, labels)
  finally:
    norm_tuning.choose = choose
  return counts


def _past_deadline() -> bool:
  return _DEADLINE.value is not None and time.perf_counter() - _START > _DEADLINE.value


def _summary(rows: list[dict]) -> list[str]:
  versions = ', '.join(f'{name} {importlib.metadata.version(name)}' for name in ('jax', 'flax'))
  model = ('ResNet18 of widths 8–16, 16²' if _SMOKE.value else
           {'resnet50': 'ResNet50, 224²', 'resnet18': 'ResNet18 (CIFAR-10), 32²'}[_MODEL.value])
  budget = (f', argument_memory_ratio {_ARGUMENT_MEMORY_RATIO.value:g}'
            if _ARGUMENT_MEMORY_RATIO.value is not None else '')
  what = (f'{"--smoke " if _SMOKE.value else ""}on {jax.devices()[0].device_kind} ({versions}): '
          f'{model}, batch {_BATCH.value}, eval mode, random inputs{budget}')
  lines = [f'# bench/grand_layers.py {what}', '',
           '| dtype | pass | examples/s | ms per batch | × input_backward |',
           '|---|---|---:|---:|---:|']
  for dtype in _DTYPES.value:
    passes = {r['measurement']: r for r in rows if r.get('dtype') == dtype and 'images_per_s' in r}
    base = passes.get('input_backward')
    for name, row in passes.items():
      ratio = f'{row["seconds_per_batch"] / base["seconds_per_batch"]:.2f}' if base else '—'
      lines.append(f'| {dtype} | {name} | {row["images_per_s"]:,.0f} | '
                   f'{1e3 * row["seconds_per_batch"]:.1f} | {ratio} |')
  lines += ['', 'Per Dense/Conv geometry: each form timed alone, per layer (—: not run, planned '
            'over the memory budget or its Gram matrices larger than the device); the last '
            'column is the chosen form × the layers sharing the geometry, over the GraNd step.',
            '', '| dtype | layer geometry | input | layers | chosen | ms per layer, by form | '
            'alone ÷ GraNd step |', '|---|---|---|---:|---|---|---:|']
  for row in rows:
    if row['measurement'] != 'layer':
      continue
    forms = ', '.join(f'{form} {1e3 * s:.2f}' if isinstance(s, float) else
                      f'{form} {"—" if s is None else "out of memory"}'
                      for form, s in row['seconds'].items())
    lines.append(f'| {row["dtype"]} | {row["layer"]} | {row["inputs"]} | '
                 f'{row["layers"]} | {row["chosen"]} | {forms} | '
                 f'{100 * row["alone_vs_grand_step"]:.1f}% |')
  return lines


def _write(rows: list[dict]) -> None:
  out = Path(_OUT.value)
  out.mkdir(parents=True, exist_ok=True)
  name = ('grand_layers_' + rows[0]['device'].replace(' ', '_')
          + ('_resnet18' if _MODEL.value == 'resnet18' and not _SMOKE.value else '')
          # Another budget's run must not overwrite the default's results.
          + (f'_amr{_ARGUMENT_MEMORY_RATIO.value:g}'
             if _ARGUMENT_MEMORY_RATIO.value is not None else ''))
  (out / f'{name}.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
  (out / f'{name}.md').write_text('\n'.join(_summary(rows)) + '\n')


def main(argv):
  del argv
  device = 'cpu_smoke' if _SMOKE.value else jax.devices()[0].device_kind
  if _ARGUMENT_MEMORY_RATIO.value is not None:
    norm_tuning.ARGUMENT_MEMORY_RATIO = _ARGUMENT_MEMORY_RATIO.value
  rows: list[dict] = []

  def record(row):
    row = dict(row, device=device, jax=jax.__version__,
               argument_memory_ratio=norm_tuning.ARGUMENT_MEMORY_RATIO)
    rows.append(row)
    print(json.dumps(row), flush=True)
    _write(rows)

  def measure_all():
    for dtype in _DTYPES.value:
      model, variables, images, labels = _model_and_data(dtype)
      args = (variables, images, labels)
      # GraNd as a GPU run computes it, the passes it is made of, then the forced forms.
      programs = [('grand_measure', _grand(model, 'measure')), *_passes(model).items(),
                  *((f'grand_{m}', _grand(model, m)) for m in _METHODS.value if m != 'measure')]
      for name, fn in programs:
        if _past_deadline():
          return
        row = dict(timing.measure(name, fn, args, _BATCH.value, min_seconds=_MIN_SECONDS.value),
                   dtype=dtype)
        record(row)
        if name == 'grand_measure':
          counts = _layer_counts(model, variables, images, labels)
          for layer_row in _layer_rows(str(jnp.dtype(dtype)), counts, row['seconds_per_batch']):
            record(layer_row)

  measure_all()
  if rows:
    print('\n'.join(_summary(rows)), flush=True)


if __name__ == '__main__':
  app.run(main)
