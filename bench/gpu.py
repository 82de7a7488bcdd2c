"""One command on a GPU: the engine's speed, and the paper's Figure 1 through ``launch.py``.

  python bench/gpu.py --data=<image folder, or a file packed by bench/image_folder_pack.py>
  python bench/gpu.py --smoke          # the same code on a CPU, tiny models and data (~2 min)

(a) ``micro``: ResNet18 on 32×32 images, the engine's own jitted steps on device-resident data
    (the in-step crop and flip included): the training step in float32 and bfloat16 at batch
    128 and 512; forward, EL2N and the GraNd fast path at the same sizes, as ratios to the
    training step; 4 seeds × 128 as one ensemble step with each ``runtime.seed_strategy``,
    against one seed alone (and the MLP's, where ``auto`` picks ``vmap``).
(b) ``figure1``: ``configs/cifar10_figure1.py`` through ``launch.py`` on CIFAR-10 (the paper's
    Figure 1 on the airbench94 recipe: 4 scoring seeds, EL2N, GraNd, forgetting and AUM,
    10–90% pruned by keep-hardest and CCS and at random, half pruned by scores from five steps,
    4 seeds × 476 steps per subset), or ``--figure1_config`` (e.g. the ResNet18 miniature
    ``configs/cifar10_resnet18_mini.py``): the whole job's seconds, every stage's seconds and
    images/s, and the Figure 1 tables (mean and 16th–84th percentile over the seeds).

(c) ``budget_sweep`` (asked for, ``--parts=budget_sweep --budgets=2.5``): ``configs/
    cifar10_budget_sweep.py`` into ``<--workdir>/budget_sweep``, kept across leases: each lease
    names the budgets so far in ``--budgets`` and trains the new one; prints the phase diagram's
    tables (each method minus random per budget and fraction, the method chosen on validation).
(d) ``airbench``: ``configs/cifar10_airbench.py`` through ``launch.py`` (the train job: 4 seeds
    of the airbench94 recipe on the whole CIFAR-10 training set, as one ensemble): each seed's
    test accuracy and their mean, and the seconds of training per seed (the ensemble's training
    time after its first, compiling, step, divided by the seeds), against the issue's targets
    (≥ 93.8% mean, ≤ 3 s per seed on one H100 in bfloat16).

``--figure1_timeout_s``, ``--budget_sweep_timeout_s``, ``--airbench_timeout_s`` and
``--deadline_s`` fit it to a lease of fixed length: the result files are rewritten after every
measurement, so whatever finished is kept. The figure1 and airbench runs each go to a new
``<--workdir>/<part>_<time>`` (a rerun measures afresh), beside the shared compilation cache and
the unpacked images.

Prints JSON lines and a markdown summary, and writes both to ``--out``
(``gpu_<device>.jsonl`` / ``.md``). Needs jax (with CUDA on a GPU), flax, optax,
orbax-checkpoint, ml-collections, numpy and Pillow; no TensorFlow.

On a machine that cannot see ``../shared``: pack the images first
(``python bench/image_folder_pack.py --folder=../shared/datasets/cifar10_jpeg
--packed=.data/cifar10_jpeg.npz``, 55 MB) and pass ``--data=.data/cifar10_jpeg.npz``.
"""

from __future__ import annotations

import os

# The figure-1 run is a subprocess on the same GPU: this process must not hold 75% of its memory
# (JAX's default preallocation) while it runs, so it allocates as it goes (set before jax loads).
_CHILD_ENV = dict(os.environ)
os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')

import functools  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import image_folder_pack  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import timing  # noqa: E402
from absl import app, flags  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # The configs package, as launch.py sees it.

from configs import train as train_config  # noqa: E402
from datadiet import models  # noqa: E402
from datadiet.data import dataset, feed, normalization, sources, train_order  # noqa: E402
from datadiet.reporting.figure1 import figure1_tables  # noqa: E402
from datadiet.scores import el2n, grand  # noqa: E402
from datadiet.train import ensemble, optim  # noqa: E402

_DATA = flags.DEFINE_string('data', '../shared/datasets/cifar10_jpeg',
                            'CIFAR-10 as an image folder, or packed into one .npz file.')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/datadiet_bench_gpu',
                               'Where the Figure 1 run and the compilation cache go.')
_OUT = flags.DEFINE_string('out', None, 'Where results are written (default: bench/results/, or '
                           '<--workdir>/results with --smoke).')
_PARTS = flags.DEFINE_list('parts', ['micro', 'figure1', 'airbench'],
                           'Any of micro, figure1, airbench, budget_sweep (asked for: a budget '
                           'per lease).')
_MICRO = flags.DEFINE_list('micro', ['steps', 'ensemble'],
                           "micro's groups: 'steps' (training step, forward, EL2N, GraNd per "
                           "dtype and batch), 'ensemble' (4 seeds per seed_strategy).")
_TAG = flags.DEFINE_string('tag', '', 'Appended to the result files\' names (a second lease).')
_SMOKE = flags.DEFINE_bool('smoke', False, 'Tiny model and data on a CPU (the test suite).')
_MIN_SECONDS = flags.DEFINE_float('min_seconds', 2.0, 'Time each micro-benchmark this long.')
_AIRBENCH_TIMEOUT = flags.DEFINE_float(
    'airbench_timeout_s', None, 'Stop the airbench run after this many seconds (reported as not '
    'finished; the benchmark goes on).')
_FIGURE1_CONFIG = flags.DEFINE_string('figure1_config', 'configs/cifar10_figure1.py',
                                      'The pipeline config the figure1 part runs.')
_FIGURE1_TIMEOUT = flags.DEFINE_float(
    'figure1_timeout_s', None, 'Stop the Figure 1 run after this many seconds and report the '
    'stages it finished (a lease of fixed length).')
_BUDGETS = flags.DEFINE_list(
    'budgets', None, 'The budget_sweep part\'s budgets (full-set epochs) up to this lease, e.g. '
    '2.5,5: those finished by earlier leases in the same --workdir are read back, not retrained; '
    'default: the config\'s.')
_BUDGET_TIMEOUT = flags.DEFINE_float(
    'budget_sweep_timeout_s', None, 'Stop the budget sweep after this many seconds (its finished '
    'runs are kept for the next lease).')
_DEADLINE = flags.DEFINE_float(
    'deadline_s', None, 'Start no micro-benchmark after this many seconds from launch; what was '
    'measured by then is written.')
_START = time.monotonic()


def _past_deadline() -> bool:
  return _DEADLINE.value is not None and time.monotonic() - _START > _DEADLINE.value


def _sizes():
  """(model, image shape, batch sizes, ensemble batch): ResNet18 on CIFAR, or the smoke's."""
  if _SMOKE.value:
    return 'small_cnn', (16, 16, 3), (8, 16), 8
  return 'resnet18', (32, 32, 3), (128, 512), 128


def _engine(model_name, dtype, seeds, batch, strategy, image_shape):
  """The engine's train step on device-resident synthetic uint8 data, and one raw batch."""
  config = train_config.get_config()
  model = models.get_model(model_name, num_classes=10, dtype=dtype,
                           batch_norm_axis_name=ensemble.DATA)
  optimizer = optim.make_optimizer(config, 10_000)
  mesh = ensemble.make_mesh(len(seeds), batch)
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (4096,) + image_shape, dtype=np.uint8)
  labels = rng.integers(0, 10, len(images)).astype(np.int32)
  stats = normalization.channel_stats(images)
  state = ensemble.init_ensemble(model, optimizer, seeds, normalization.normalize(images[0], stats),
                                 len(images), mesh)
  order = train_order.TrainOrder(np.arange(len(images)), seeds, batch, 0, augment=True)
  data = dataset.Dataset('synthetic', {'image': images, 'label': labels}, {}, num_classes=10)
  table, batches = feed.train_batches('device', data, labels, order, 0, 1,
                                      ensemble.batch_sharding(mesh))
  step = ensemble.make_train_step(model, optimizer, mesh,
                                  ensemble.resolve_strategy(strategy, state.params), stats)
  return step, state, next(batches), table, images, labels, stats


def _time_engine_step(name, step, state, batch, table, images_per_step):
  return timing.measure(name, None, (state, batch, table), images_per_step, donate=True,
                        min_seconds=_MIN_SECONDS.value, jitted=step,
                        next_state=lambda out: out[0])


def micro(on_row) -> list[dict]:
  """Times the engine's steps; calls ``on_row`` after each (so a cut-off lease keeps them)."""
  model_name, image_shape, batch_sizes, ensemble_batch = _sizes()
  rows = []

  def record(row, model=model_name, **extra):
    row.update(model=model, backend=jax.default_backend(), **extra)
    print(json.dumps(row), flush=True)
    rows.append(row)
    on_row(rows)

  for dtype in models.COMPUTE_DTYPES if 'steps' in _MICRO.value else ():
    for batch in batch_sizes:
      if _past_deadline():
        return rows
      step, state, raw, table, images, labels, stats = _engine(
          model_name, dtype, [0], batch, 'unroll', image_shape)
      # Seed 0's variables, copied out before the training step donates the state.
      variables = jax.tree.map(lambda x: jnp.copy(x[0]), ensemble.model_variables(
          state.params, state.batch_stats, state.constants))
      record(_time_engine_step('train_step', step, state, raw, table, batch), dtype=dtype)
      model = models.get_model(model_name, num_classes=10, dtype=dtype)
      x = jnp.asarray(normalization.normalize(images[:batch], stats))
      y = jnp.asarray(labels[:batch])
      scores = {
          'forward': (lambda v, x: model.apply(v, x, train=False), (variables, x)),
          'el2n': (lambda v, x, y: el2n(model.apply(v, x, train=False), y), (variables, x, y)),
          'grand': (functools.partial(grand, model, method='fast',
                                      apply_kwargs={'train': False}), (variables, x, y)),
      }
      for name, (fn, args) in scores.items():
        record(timing.measure(name, fn, args, batch, min_seconds=_MIN_SECONDS.value),
               dtype=dtype)
  for name in (model_name, 'mlp') if 'ensemble' in _MICRO.value else ():
    for dtype in models.COMPUTE_DTYPES if name == model_name else ('float32',):
      for strategy in ensemble.STRATEGY_CHOICES:
        if strategy == 'map':
          continue  # A loop over seeds: slower than both on every backend measured.
        if _past_deadline():
          return rows
        if name == model_name and not any(r['measurement'] == 'train_step' and
                                          r['dtype'] == dtype and r['batch_size'] == ensemble_batch
                                          for r in rows):
          # One seed alone, measured here when 'steps' did not: the ratios' denominator.
          step, state, raw, table, *_ = _engine(name, dtype, [0], ensemble_batch, 'unroll',
                                                image_shape)
          record(_time_engine_step('train_step', step, state, raw, table, ensemble_batch),
                 dtype=dtype)
        step, state, raw, table, *_ = _engine(name, dtype, [0, 1, 2, 3], ensemble_batch,
                                              strategy, image_shape)
        row = _time_engine_step('ensemble_step', step, state, raw, table, 4 * ensemble_batch)
        record(row, model=name, dtype=dtype, strategy=strategy, num_seeds=4)
  return rows


def micro_summary(rows: list[dict]) -> list[str]:
  """The issue's table: images/s and the ratios to the training step of the same size."""
  model = rows[0]['model']
  rate = {(r['measurement'], r['dtype'], r['batch_size'], r.get('strategy'), r['model']):
          r['images_per_s'] for r in rows}
  lines = [f'| {model}, {jax.devices()[0].device_kind} | dtype | batch | images/s | '
           '÷ training step |', '|---|---|---:|---:|---:|']
  for (name, dtype, batch, strategy, model_name), value in rate.items():
    if name == 'ensemble_step':
      alone = rate.get(('train_step', dtype, batch // 4, None, model_name))  # None for the MLP.
      label = f'ensemble step, 4 seeds, {strategy} ({model_name})'
    else:
      alone = rate[('train_step', dtype, batch, None, model_name)]
      label = {'train_step': 'training step', 'forward': 'forward', 'el2n': 'EL2N',
               'grand': 'GraNd fast path'}[name]
    ratio = f'{value / alone:.2f}' if alone else ''
    lines.append(f'| {label} | {dtype} | {batch} | {value:,.0f} | {ratio} |')
  return lines


def _smoke_folder(root: Path) -> Path:
  """The offline digits as a 16×16 PNG image folder (the smoke's CIFAR stand-in)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  if (root / 'train').is_dir():  # Written already, for another part of this run.
    return root
  data = sources.load('digits')
  for split, arrays in (('train', data.train), ('test', data.test)):
    for image, label, example_id in zip(arrays['image'], arrays['label'], arrays['id']):
      folder = root / split / str(label)
      folder.mkdir(parents=True, exist_ok=True)
      Image.fromarray(np.kron(image[..., 0], np.ones((2, 2), np.uint8))).save(
          folder / f'{example_id:04d}.png')
  return root


def _data_folder() -> Path:
  """The image folder the launch.py parts read: under --workdir when made here (the smoke's
  digits, or a packed file unpacked once), so a rerun names the same dataset."""
  scratch = Path(_WORKDIR.value) / 'data'
  if _SMOKE.value:
    return _smoke_folder(scratch / 'digits_16px')
  data = Path(_DATA.value)
  if data.is_file():  # Packed: unpack once next to the runs.
    folder = scratch / data.stem
    if not (folder / 'train').is_dir():
      image_folder_pack.unpack(data, folder)
    return folder
  return data


def _launch_command(config_file: str, name: str, folder: Path,
                    stamped: bool = True) -> tuple[list[str], str, Path]:
  """``(launch.py command, config, workdir)`` for ``config_file`` (its ``:smoke`` setting with
  --smoke) on the image ``folder``, into a new ``<--workdir>/<name>[_smoke]_<time>``: a rerun
  measures afresh instead of resuming a finished run (the compilation cache is shared); with
  ``stamped=False`` into ``<--workdir>/<name>[_smoke]``, kept across reruns."""
  stamp = f'_{time.strftime("%Y%m%d-%H%M%S")}' if stamped else ''
  workdir = Path(_WORKDIR.value) / f'{name}{"_smoke" if _SMOKE.value else ""}{stamp}'
  config = config_file + (':smoke' if _SMOKE.value else '')
  command = [sys.executable, 'launch.py', f'--config={config}', f'--workdir={workdir}',
             f'--config.data.name=image_folder:{folder.resolve()}',
             '--config.runtime.compilation_cache_dir='
             f'{Path(_WORKDIR.value).resolve() / "jax_cache"}']
  return command, config, workdir


def figure1() -> tuple[list[dict], list[str]]:
  """Runs the mini Figure 1 through launch.py; returns its stage rows and markdown lines."""
  folder = _data_folder()
  command, config, workdir = _launch_command(_FIGURE1_CONFIG.value, 'figure1',
                                             folder)
  start = time.perf_counter()
  try:
    subprocess.run(command, cwd=ROOT, check=True, env=_CHILD_ENV,
                   timeout=_FIGURE1_TIMEOUT.value)
    finished = True
  except subprocess.TimeoutExpired:
    finished = False  # The stages it finished still report below.
  seconds = time.perf_counter() - start
  config_values = json.loads((workdir / 'config.json').read_text())
  num_train = sum(1 for p in (folder / 'train').glob('*/*') if p.is_file())
  rows = [dict(measurement='figure1_total', seconds=seconds, finished=finished,
               workdir=str(workdir))]
  for stage in ('pretrain', 'score', 'prune', 'retrain', 'report'):
    done_file = workdir / 'stages' / f'{stage}.done'
    if not done_file.exists():
      break
    done = json.loads(done_file.read_text())
    row = dict(measurement='figure1_stage', stage=stage, seconds=done['seconds'])
    if stage == 'pretrain':
      row['images_per_s'] = _training_rate(workdir / 'pretrain')
    elif stage == 'score':
      row['examples_scored_per_s'] = (len(config_values['pretrain']['seeds']) * num_train
                                      / done['seconds'])
    rows.append(row)
  for run in sorted((workdir / 'retrain').iterdir()) if (workdir / 'retrain').is_dir() else ():
    if (run / 'metrics.jsonl').exists():
      rows.append(dict(measurement='figure1_retrain', subset=run.name,
                       images_per_s=_training_rate(run)))
  results_file = workdir / 'results.json'
  results = json.loads(results_file.read_text()) if results_file.exists() else []
  accuracy = {}
  for r in results:
    accuracy.setdefault(r['subset'], []).append(r['test_accuracy'])
  for subset, values in accuracy.items():
    rows.append(dict(measurement='figure1_accuracy', subset=subset, seeds=len(values),
                     test_accuracy=float(np.mean(values))))
  for row in rows:
    print(json.dumps(row), flush=True)
  lines = [f'Figure 1 ({config}): {seconds:.0f} s in all'
           + ('.' if finished else ', stopped by --figure1_timeout_s before it finished.')
           + (' Smoke: a tiny network for a few steps on the digits, so the accuracies only show '
              'that every stage ran.' if _SMOKE.value else ''), '',
           '| stage | seconds | images/s |', '|---|---:|---:|']
  for row in rows:
    if row['measurement'] == 'figure1_stage':
      rate = row.get('images_per_s') or row.get('examples_scored_per_s')
      lines.append(f'| {row["stage"]} | {row["seconds"]:.0f} | '
                   f'{f"{rate:,.0f}" if rate else ""} |')
    elif row['measurement'] == 'figure1_retrain':
      rate = row['images_per_s']
      lines.append(f'| retrain {row["subset"]} | | {f"{rate:,.0f}" if rate else ""} |')
  lines += figure1_tables(results)
  return rows, lines


def budget_sweep() -> tuple[list[dict], list[str]]:
  """Runs configs/cifar10_budget_sweep.py through launch.py into one workdir kept across leases
  (``<--workdir>/budget_sweep``: each lease adds its --budgets, the finished runs are read
  back); returns its rows and the phase diagram's section."""
  command, config, workdir = _launch_command('configs/cifar10_budget_sweep.py', 'budget_sweep',
                                             _data_folder(), stamped=False)
  if _BUDGETS.value:
    budgets = tuple(float(b) for b in _BUDGETS.value)
    command.append(f'--config.analyses.budget_sweep.budgets={budgets!r}')
  if (workdir / 'config.json').exists():  # A later lease: more budgets, the same run.
    command.append('--continue_with_changed_config')
  start = time.perf_counter()
  try:
    subprocess.run(command, cwd=ROOT, check=True, env=_CHILD_ENV, timeout=_BUDGET_TIMEOUT.value)
    finished, why = True, None
  except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
    finished = False
    why = ('timed out' if isinstance(e, subprocess.TimeoutExpired)
           else f'exit status {e.returncode}')
  seconds = time.perf_counter() - start
  sweep_dirs = sorted((workdir / 'budget_sweep').glob('*/*epochs'))
  runs = {d.name: sum(1 for _ in d.glob('*/result.json')) for d in sweep_dirs}
  row = dict(measurement='budget_sweep', finished=finished, why=why, seconds=seconds,
             workdir=str(workdir), runs_per_budget=runs)
  print(json.dumps(row), flush=True)
  lines = [f'Budget sweep ({config}): {seconds:.0f} s this time'
           + ('.' if finished else f', not finished ({why}); its finished runs are kept.')
           + ' Finished runs per budget: ' + ', '.join(f'{k} {v}' for k, v in runs.items())
           + '.']
  section = workdir / 'budget_sweep.md'
  if finished and section.exists():
    lines += [''] + section.read_text().splitlines()
  return [row], lines


def airbench() -> tuple[list[dict], list[str]]:
  """Runs configs/cifar10_airbench.py through launch.py; returns its rows and markdown lines (a
  run that failed or ran out of --airbench_timeout_s is reported as such, and the benchmark goes
  on)."""
  command, config, workdir = _launch_command('configs/cifar10_airbench.py', 'airbench',
                                             _data_folder())
  start = time.perf_counter()
  try:
    subprocess.run(command, cwd=ROOT, check=True, env=_CHILD_ENV,
                   timeout=_AIRBENCH_TIMEOUT.value)
  except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
    row = dict(measurement='airbench', finished=False, workdir=str(workdir),
               seconds=time.perf_counter() - start,
               why=('timed out' if isinstance(e, subprocess.TimeoutExpired)
                    else f'exit status {e.returncode}'))
    print(json.dumps(row), flush=True)
    return [row], [f'airbench94 ({config}) did not finish ({row["why"]} after '
                   f'{row["seconds"]:.0f} s): not measured.']
  seconds = time.perf_counter() - start
  values = json.loads((workdir / 'config.json').read_text())
  seeds, batch, steps = (values['pretrain']['seeds'], values['optim']['batch_size'],
                         values['optim']['budget'])
  metrics = [json.loads(line) for line in (workdir / 'metrics.jsonl').open()]
  accuracy = {r['seed']: r['accuracy'] for r in metrics if r['split'] == 'test'}
  rate = _training_rate(workdir)  # Images/s of the whole ensemble, its first step excluded.
  per_seed = steps * batch / rate if rate else None
  row = dict(measurement='airbench', finished=True, workdir=str(workdir), seeds=len(seeds),
             steps=steps, batch_size=batch,
             compute_dtype=values['model']['compute_dtype'], job_seconds=seconds,
             ensemble_images_per_s=rate, training_seconds_per_seed=per_seed,
             test_accuracy=[accuracy[s] for s in seeds],
             mean_test_accuracy=float(np.mean([accuracy[s] for s in seeds])))
  print(json.dumps(row), flush=True)
  lines = [f'airbench94 ({config}): {len(seeds)} seeds × {steps} steps of {batch} in '
           f'{row["compute_dtype"]}, {seconds:.0f} s for the whole job (loading, fitting the whitening, '
           'compiling, evaluating included).' + (' Smoke: a quarter-width network on the '
                                                 'digits for a few steps.' if _SMOKE.value else ''),
           '', '| | measured | target |', '|---|---:|---:|',
           f'| mean test accuracy ({len(seeds)} seeds, test-time augmentation) | '
           f'{100 * row["mean_test_accuracy"]:.2f}% | ≥ 93.8% |',
           f'| per seed | {", ".join(f"{100 * a:.2f}%" for a in row["test_accuracy"])} | |',
           f'| training seconds per seed (ensemble time ÷ {len(seeds)}) | '
           + (f'{per_seed:.2f}' if per_seed else 'not logged') + ' | ≤ 3 (H100, bfloat16) |']
  return [row], lines


def _training_rate(run_dir: Path) -> float | None:
  """A run's last logged images/s, all seeds together (metrics hold it per seed)."""
  rows = [json.loads(line) for line in (run_dir / 'metrics.jsonl').open()]
  if not any(r['split'] == 'train' for r in rows):
    return None
  last = max(r['step'] for r in rows if r['split'] == 'train')
  return sum(r['images_per_s'] for r in rows if r['split'] == 'train' and r['step'] == last)


def _check_data() -> None:
  """Refuses a --data that cannot be CIFAR-10 before any benchmark spends device time."""
  if _SMOKE.value or not {'figure1', 'airbench', 'budget_sweep'} & set(_PARTS.value):
    return
  data = Path(_DATA.value)
  if data.is_file() and data.suffix == '.npz':
    return
  if not ((data / 'train').is_dir() and (data / 'test').is_dir()):
    raise SystemExit(f'bench/gpu.py: --data={_DATA.value} is neither an image folder with '
                     'train/ and test/ nor a .npz made by bench/image_folder_pack.py.')


def _write(out: Path, name: str, rows: list[dict], lines: list[str]) -> None:
  """Both result files, rewritten whole after each measurement (a lease can end any time)."""
  for suffix, text in (('.jsonl', ''.join(json.dumps(r) + '\n' for r in rows)),
                       ('.md', '\n'.join(lines) + '\n')):
    temporary = out / f'.{name}{suffix}.tmp'
    temporary.write_text(text)
    temporary.replace(out / f'{name}{suffix}')


def main(argv):
  del argv
  _check_data()
  out = Path(_OUT.value or (Path(_WORKDIR.value) / 'results' if _SMOKE.value
                            else ROOT / 'bench' / 'results'))
  out.mkdir(parents=True, exist_ok=True)
  device = jax.devices()[0].device_kind
  name = (f'gpu_{device.replace(" ", "_")}' + ('_smoke' if _SMOKE.value else '')
          + (f'_{_TAG.value}' if _TAG.value else ''))
  rows, lines = [], [f'# bench/gpu.py on {device} (jax {jax.__version__})', '']
  # Figure 1 first, while this process holds no device memory; then the micro-benchmarks.
  if 'figure1' in _PARTS.value:
    figure_rows, figure_lines = figure1()
    rows += figure_rows
    lines += figure_lines + ['']
    _write(out, name, rows, lines)
  if 'budget_sweep' in _PARTS.value:
    sweep_rows, sweep_lines = budget_sweep()
    rows += sweep_rows
    lines += sweep_lines + ['']
    _write(out, name, rows, lines)
  if 'airbench' in _PARTS.value:
    airbench_rows, airbench_lines = airbench()
    rows += airbench_rows
    lines += airbench_lines + ['']
    _write(out, name, rows, lines)
  if 'micro' in _PARTS.value:
    micro(lambda micro_rows: _write(out, name, rows + micro_rows,
                                    lines + micro_summary(micro_rows)))
  print((out / f'{name}.md').read_text())


if __name__ == '__main__':
  app.run(main)
