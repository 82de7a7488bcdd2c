r"""The stream input path against the in-memory one: training and scoring images/s on the shared
CIFAR-10 and on ImageNet-shaped random data, and the peak host memory of a streamed run at two
dataset sizes.

Prints one JSON line per measurement.

  python bench/streaming.py                                  # throughput and memory
  python bench/streaming.py --parts=throughput --steps=100
  python bench/streaming.py --parts=memory --sizes=50000,500000
  python bench/streaming.py --parts=imagenet                 # a GPU: ResNet50 at 224²
  python bench/streaming.py --parts=imagenet --imagenet_images=64 --imagenet_size=32 \
      --imagenet_batch=8 --imagenet_steps=3 --imagenet_widths=4,8,8,8   # its CPU smoke run

Throughput: the CPU config's model (small CNN, 2 seeds, batch 128, pad-crop-flip) trains
``--steps`` steps fed by the ``device`` path (the split decoded into memory first) and by
``stream`` (every batch read and decoded from the JPEG files), then scores
``--score_examples`` examples (EL2N and GraNd; compilation left out); each measurement in a
fresh process, ``--rounds`` alternating rounds, medians reported. Memory: for each size, a fresh
process streams a synthetic image folder of that many 32×32 JPEGs (hard links to 256 distinct
images, so a 500,000-image folder costs little disk) through ``--memory_steps`` training steps
and a whole scoring pass, and reports its peak resident memory (ru_maxrss) after each part.
ImageNet-shaped (a GPU's measurement): ``configs/imagenet_resnet50.py``'s model and recipe
(one seed, bfloat16) on a synthetic folder of ``--imagenet_images`` JPEGs of 300–500 pixels a
side (smooth random content: decoding costs what the pixel count costs), trained
``--imagenet_steps`` steps and scored: streamed with the random-resized crop, against the same
images resized once into device memory (``device``, no crop: the same model work, no input
pipeline); each path's input alone (batches read and placed, no step) is timed too, the
ceiling the host sets.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # The configs package.

from configs import cifar10_cpu, imagenet_resnet50  # noqa: E402
from datadiet import models, runtime, scoring  # noqa: E402
from datadiet.data import feed, image_reader, sources, train_order  # noqa: E402
from datadiet.train import ensemble, loop  # noqa: E402

_REPO = Path(__file__).resolve().parents[1]
_DATASET = flags.DEFINE_string(
    'dataset', f'image_folder:{(_REPO / "../shared/datasets/cifar10_jpeg").resolve()}',
    'An image folder (or TFDS ArrayRecord dataset) to stream.')
_PARTS = flags.DEFINE_list('parts', ['throughput', 'memory'], 'Which measurements.')
_STEPS = flags.DEFINE_integer('steps', 100, 'Timed training steps per path (after 5 warm-up).')
_SCORE_EXAMPLES = flags.DEFINE_integer('score_examples', 10_000, 'Examples scored per path.')
_SIZES = flags.DEFINE_list('sizes', ['50000', '500000'], 'Synthetic dataset sizes (memory).')
_MEMORY_STEPS = flags.DEFINE_integer('memory_steps', 50, 'Training steps of the memory runs.')
_SYNTHETIC_DIR = flags.DEFINE_string('synthetic_dir', '/tmp/datadiet_synthetic',
                                     'Where the synthetic folders are written (kept).')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Alternating timing rounds per path.')
_THROUGHPUT_CHILD = flags.DEFINE_string('throughput_child', '', 'Internal: one path\'s rates.')
_CHILD = flags.DEFINE_integer('memory_child', 0, 'Internal: run one memory measurement.')
_IMAGENET_IMAGES = flags.DEFINE_integer('imagenet_images', 4096,
                                        'Synthetic ImageNet-shaped training images.')
_IMAGENET_SIZE = flags.DEFINE_integer('imagenet_size', 224, 'Training and scoring image size.')
_IMAGENET_BATCH = flags.DEFINE_integer('imagenet_batch', 256, 'Per-seed batch (ImageNet part).')
_IMAGENET_STEPS = flags.DEFINE_integer('imagenet_steps', 50, 'Timed steps (ImageNet part).')
_IMAGENET_WORKERS = flags.DEFINE_string('imagenet_stream_workers', 'auto',
                                        "config.runtime.stream_workers of the ImageNet part's "
                                        'stream run (each kind\'s input-only rate is timed too).')
_IMAGENET_WIDTHS = flags.DEFINE_list('imagenet_widths', ['64', '128', '256', '512'],
                                     "ResNet50's stage widths (narrower for a CPU smoke run).")

_WARMUP = 5


def _peak_mib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux.


def _config(dataset: str, input_pipeline: str):
  config = cifar10_cpu.get_config()
  config.data.name = dataset
  config.runtime.input_pipeline = input_pipeline
  return config


def _imagenet_config(input_pipeline: str):
  """``configs/imagenet_resnet50.py`` on the synthetic folder, one seed: streamed with its
  random-resized crop, or resized once into device memory without it."""
  config = imagenet_resnet50.get_config()
  config.data.name = f'image_folder:{_imagenet_folder()}'
  config.data.image_size = _IMAGENET_SIZE.value
  config.data.augment = 'resized_crop_flip' if input_pipeline == 'stream' else 'none'
  config.model.kwargs.widths = tuple(map(int, _IMAGENET_WIDTHS.value))
  config.optim.batch_size = _IMAGENET_BATCH.value
  config.pretrain.seeds = (0,)
  config.runtime.input_pipeline = input_pipeline
  config.runtime.score_batch_size = _IMAGENET_BATCH.value
  config.runtime.stream_workers = _IMAGENET_WORKERS.value
  return config


def _batches(config, data, run, steps: int):
  """``(table, batches)`` of the run's input path: warm-up and ``steps`` training batches."""
  augmentation = train_order.augmentation_of(config.data.augment)
  order = train_order.TrainOrder(run.positions, list(config.pretrain.seeds),
                                 config.optim.batch_size, config.data.order_seed,
                                 augment=augmentation == 'pad_crop_flip')
  return feed.train_batches(run.input_pipeline, data, data.train['label'], order, 0,
                            _WARMUP + steps, ensemble.batch_sharding(run.mesh), augmentation)


def _train(config, data, run, steps: int):
  """``(images/s, trained state)`` of ``steps`` training steps after warm-up, fed by the run's
  input path (the step donates ``run.state``)."""
  seeds = list(config.pretrain.seeds)
  step_fn = ensemble.make_train_step(run.model, run.optimizer, run.mesh, run.strategy, run.stats)
  table, batches = _batches(config, data, run, steps)
  state = run.state
  for _ in range(_WARMUP):
    state, metrics = step_fn(state, next(batches), table)
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for batch in batches:
    state, metrics = step_fn(state, batch, table)
  jax.block_until_ready(metrics)
  return steps * len(seeds) * config.optim.batch_size / (time.perf_counter() - start), state


def _input_only(config, data, run, steps: int) -> float:
  """Images/s of the run's input path alone: ``steps`` training batches read, transformed and
  placed on the devices with no training step (after warm-up), the ceiling the host sets."""
  _, batches = _batches(config, data, run, steps)
  for _ in range(_WARMUP):
    batch = next(batches)
  jax.block_until_ready(batch)
  start = time.perf_counter()
  for batch in batches:
    pass
  jax.block_until_ready(batch)
  return (steps * len(config.pretrain.seeds) * config.optim.batch_size
          / (time.perf_counter() - start))


def _score_once(config, data, run, state, count: int, names=('el2n', 'grand')) -> float:
  """Examples/s of one scoring pass over the first ``count`` training examples (its
  compilation included)."""
  model = models.from_config(config, data.num_classes, dtype='float32',
                             batch_norm_axis_name=ensemble.DATA)
  split = {key: value[:count] for key, value in data.train.items()}
  examples = run.examples(split)
  start = time.perf_counter()
  scoring.score_split(model, state, examples, split['id'], names,
                      config.runtime.score_batch_size)
  return count / (time.perf_counter() - start)


def _score(config, data, run, state, count: int) -> float:
  """Examples/s of scoring the first ``count`` training examples (EL2N and GraNd), the second of
  two identical passes: each builds its scoring step anew, which the second loads from a
  compilation cache instead of compiling."""
  runtime.enable_compilation_cache(Path(tempfile.mkdtemp(prefix='datadiet_bench_cache_')))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
  _score_once(config, data, run, state, count)
  return _score_once(config, data, run, state, count)


def _throughput_child(path: str) -> None:
  """One path's setup, training and scoring rates in this (fresh) process; prints its row as
  each part finishes."""
  imagenet = path.startswith('imagenet:')
  path = path.removeprefix('imagenet:')
  config = _imagenet_config(path) if imagenet else _config(_DATASET.value, path)
  start = time.perf_counter()
  data = sources.for_config(config)
  run = loop.setup(config, data, list(config.pretrain.seeds))
  setup = time.perf_counter() - start  # Loading (device), or indexing + channel statistics.
  steps = _IMAGENET_STEPS.value if imagenet else _STEPS.value
  train_rate, state = _train(config, data, run, steps)
  row = dict(input_pipeline=path, setup_seconds=round(setup, 1),
             train_images_per_s=round(train_rate, 1))
  if imagenet:
    row['input_only_images_per_s'] = round(_input_only(config, data, run, steps), 1)
    if path == 'stream':  # Each kind of reader worker alone, on this host's CPUs.
      for workers in ('threads', 'processes'):
        other = dataclasses.replace(data, reader=dict(data.reader, workers=workers))
        row[f'input_only_images_per_s_{workers}'] = round(
            _input_only(config, other, run, steps), 1)
  print(json.dumps(row), flush=True)  # Kept if scoring fails (a GPU lease is not rerun).
  count = min(len(data.train['id']), 4 * _IMAGENET_BATCH.value) if imagenet else (
      _SCORE_EXAMPLES.value)
  row['score_examples_per_s'] = round(_score(config, data, run, state, count), 1)
  print(json.dumps(row), flush=True)


def _child(flag: str, value, partial_ok: bool = False) -> dict:
  """The last row a fresh process running this file with ``--flag=value`` printed; with
  ``partial_ok``, a failed one's last row too, its error attached."""
  out = subprocess.run([sys.executable, __file__, f'--{flag}={value}',
                        f'--dataset={_DATASET.value}', f'--steps={_STEPS.value}',
                        f'--score_examples={_SCORE_EXAMPLES.value}',
                        f'--synthetic_dir={_SYNTHETIC_DIR.value}',
                        f'--memory_steps={_MEMORY_STEPS.value}',
                        f'--imagenet_images={_IMAGENET_IMAGES.value}',
                        f'--imagenet_size={_IMAGENET_SIZE.value}',
                        f'--imagenet_batch={_IMAGENET_BATCH.value}',
                        f'--imagenet_steps={_IMAGENET_STEPS.value}',
                        f'--imagenet_widths={",".join(_IMAGENET_WIDTHS.value)}',
                        f'--imagenet_stream_workers={_IMAGENET_WORKERS.value}'],
                       capture_output=True, text=True, check=False)
  lines = [line for line in out.stdout.splitlines() if line.startswith('{')]
  if out.returncode and partial_ok and lines:
    print(out.stderr[-3000:], file=sys.stderr)
    return dict(json.loads(lines[-1]), error=(out.stderr.strip().splitlines()
                                                 or [f'exit status {out.returncode}'])[-1][-500:])
  if out.returncode or not lines:
    raise RuntimeError(f'{flag}={value} failed:\n{out.stderr[-3000:]}')
  return json.loads(lines[-1])


def bench_throughput() -> list[dict]:
  """``--rounds`` rounds of (device, stream), each measured in a fresh process (no thread pool
  or cache of one path lingers into the other), alternating so that drift on a shared machine
  hits both; rows hold every round and the medians."""
  rounds = {'device': [], 'stream': []}
  for _ in range(_ROUNDS.value):
    for path in rounds:
      rounds[path].append(_child('throughput_child', path))
  config = _config(_DATASET.value, 'device')
  rows = {}
  for path, measured in rounds.items():
    median = lambda key: float(np.median([m[key] for m in measured]))  # noqa: E731
    rows[path] = dict(measurement='stream_vs_memory', input_pipeline=path,
                      dataset=_DATASET.value, model=config.model.name,
                      num_seeds=len(config.pretrain.seeds), batch_size=config.optim.batch_size,
                      steps=_STEPS.value, score_examples=_SCORE_EXAMPLES.value,
                      setup_seconds=median('setup_seconds'),
                      train_images_per_s=median('train_images_per_s'),
                      score_examples_per_s=median('score_examples_per_s'),
                      train_rounds=[m['train_images_per_s'] for m in measured],
                      score_rounds=[m['score_examples_per_s'] for m in measured],
                      backend=jax.default_backend())
  for key in ('train_images_per_s', 'score_examples_per_s'):
    rows['stream'][key.replace('_per_s', '_ratio')] = round(
        rows['stream'][key] / rows['device'][key], 3)
  return list(rows.values())


def _synthetic_folder(size: int) -> Path:
  """``size`` 32×32 JPEGs in 10 classes, hard links to 256 distinct images."""
  root = Path(_SYNTHETIC_DIR.value) / f'n{size}'
  if (root / 'complete').exists():
    return root
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  pool = root / 'pool'
  pool.mkdir(parents=True, exist_ok=True)
  sources = []
  for i in range(256):
    path = pool / f'{i}.jpg'
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path, quality=90)
    sources.append(path)
  for split, count in (('train', size), ('test', max(1000, size // 50))):
    for label in range(10):
      (root / split / f'class_{label}').mkdir(parents=True, exist_ok=True)
    for i in range(count):
      target = root / split / f'class_{i % 10}' / f'{i:07d}.jpg'
      if not target.exists():
        os.link(sources[i % len(sources)], target)
  (root / 'complete').write_text('')
  return root


def _memory_child(size: int) -> None:
  """One streamed run over the synthetic folder of ``size`` images; prints its row."""
  root = Path(_SYNTHETIC_DIR.value) / f'n{size}'
  config = _config(f'image_folder:{root}', 'stream')
  config.data.channel_stats = ((0.5,) * 3, (0.25,) * 3)  # Not measured: the pass is not timed.
  baseline = _peak_mib()
  start = time.perf_counter()
  data = sources.for_config(config)
  run = loop.setup(config, data, list(config.pretrain.seeds))
  after_index = _peak_mib()
  rate, state = _train(config, data, run, _MEMORY_STEPS.value)
  after_train = _peak_mib()
  score_rate = _score_once(config, data, run, state, len(data.train['id']), names=('el2n',))
  print(json.dumps(dict(measurement='stream_peak_memory', examples=size,
                        peak_mib_at_start=round(baseline), peak_mib_after_index=round(after_index),
                        peak_mib_after_training=round(after_train),
                        peak_mib_after_scoring_pass=round(_peak_mib()),
                        train_images_per_s=round(rate, 1),
                        score_examples_per_s=round(score_rate, 1),
                        seconds=round(time.perf_counter() - start, 1))), flush=True)


def _imagenet_folder() -> Path:
  """``--imagenet_images`` training JPEGs (and a quarter as many test ones) of 300–500 pixels a
  side in 10 classes: smooth random content (16×16 noise upsampled), quality 90."""
  root = Path(_SYNTHETIC_DIR.value) / f'imagenet_shaped_{_IMAGENET_IMAGES.value}'
  if (root / 'complete').exists():
    return root
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  for split, count in (('train', _IMAGENET_IMAGES.value),
                       ('test', max(10, _IMAGENET_IMAGES.value // 4))):
    for i in range(count):
      folder = root / split / f'class_{i % 10}'
      folder.mkdir(parents=True, exist_ok=True)
      height, width = (int(v) for v in rng.integers(300, 501, 2))
      noise = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
      noise.resize((width, height), Image.Resampling.BICUBIC).save(folder / f'{i:07d}.jpg',
                                                                   quality=90)
  (root / 'complete').write_text('')
  return root


def bench_imagenet() -> list[dict]:
  """ResNet50 on ImageNet-shaped data: streamed (random-resized crop on the reader workers)
  against device-resident (resized once), each in a fresh process, one round each."""
  _imagenet_folder()
  rows = {path: _child('throughput_child', f'imagenet:{path}', partial_ok=True)
          for path in ('device', 'stream')}
  out = []
  for path, measured in rows.items():
    measured.pop('input_pipeline')
    out.append(dict(measurement='imagenet_shaped_stream_vs_memory', input_pipeline=path,
                    images=_IMAGENET_IMAGES.value, image_size=_IMAGENET_SIZE.value,
                    widths=list(map(int, _IMAGENET_WIDTHS.value)),
                    batch_size=_IMAGENET_BATCH.value, steps=_IMAGENET_STEPS.value,
                    cpus=image_reader.cpus(), stream_workers=image_reader.resolve_workers(
                        _IMAGENET_WORKERS.value), backend=jax.default_backend(),
                    device=jax.devices()[0].device_kind, **measured))
  for key in ('train_images_per_s', 'score_examples_per_s'):
    if key in out[0] and key in out[1]:
      out[1][key.replace('_per_s', '_ratio')] = round(out[1][key] / out[0][key], 3)
  return out


def bench_memory() -> list[dict]:
  rows = []
  for size in map(int, _SIZES.value):
    _synthetic_folder(size)
    rows.append(_child('memory_child', size))
  if len(rows) == 2:
    small, large = rows
    rows.append(dict(measurement='stream_peak_memory_growth',
                     examples=[small['examples'], large['examples']],
                     ratio=round(large['peak_mib_after_scoring_pass']
                                 / small['peak_mib_after_scoring_pass'], 3)))
  return rows


def main(argv):
  del argv
  if _CHILD.value:
    _memory_child(_CHILD.value)
    return
  if _THROUGHPUT_CHILD.value:
    _throughput_child(_THROUGHPUT_CHILD.value)
    return
  parts = {'throughput': bench_throughput, 'memory': bench_memory,
           'imagenet': bench_imagenet}
  unknown = [part for part in _PARTS.value if part not in parts]
  if unknown:  # Before any part runs: a typo must not end a long run halfway.
    sys.exit(f'bench/streaming.py: unknown --parts {", ".join(unknown)}; valid: '
             f'{", ".join(parts)}.')
  for part in _PARTS.value:
    for row in parts[part]():
      print(json.dumps(row), flush=True)


if __name__ == '__main__':
  app.run(main)
