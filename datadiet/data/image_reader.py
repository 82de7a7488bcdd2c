"""Images read by location on a pool of workers, a few batches ahead: the stream path's reader.

:class:`ImageReader` decodes (Pillow, the in-memory loader's decoder: the same pixels) and
transforms one example (:mod:`datadiet.data.image_ops`, :mod:`datadiet.data.resized_crop`);
:func:`read_batches` runs it over whole batches on

* ``'threads'``: Python threads of this process. Pillow releases the GIL while it decodes and
  resamples, but each image still holds it for ~0.5 ms of Python and copies, which caps a
  process at ~1,000–2,000 images/s however many cores it has (an H100 host's 16 threads read
  977–1,187 ImageNet-sized images/s, where the GPU trains ResNet50 at 5,700); on 2 cores threads
  cost least (no copies between processes);
* ``'processes'``: a persistent pool of spawned reader processes (one per CPU unless
  ``config.runtime.stream_readers`` says) writing each batch into shared memory, one copy out
  per batch: no GIL between readers;
* ``'auto'``: processes on hosts of more than :data:`THREADS_UP_TO_CPUS` CPUs, else threads.

No TensorFlow: image folders stream without it (TFDS ArrayRecord datasets need TFDS). This
module imports no JAX, but a spawned reader also re-imports the script that started it: readers
of ``launch.py`` hold ~300 MB each. A reader exits when its training process is gone, however
that ended, and ignores Ctrl-C (the training process stops the pool).
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import functools
import itertools
import math
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from datadiet import errors, optional_deps
from datadiet.data import image_folder, image_ops, resized_crop

WORKERS = ('auto', 'threads', 'processes')
THREADS_UP_TO_CPUS = 4


def check_workers(workers: str) -> str:
  """``workers`` if it is one of :data:`WORKERS`, else an InputError naming them."""
  if workers not in WORKERS:
    raise errors.InputError(f'config.runtime.stream_workers={workers!r} is not one of '
                            f'{", ".join(WORKERS)}.')
  return workers


def cpus() -> int:
  """The CPUs this process may run on: reader threads or processes per process."""
  return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def resolve_workers(workers: str, host_cpus: int | None = None) -> str:
  """``'threads'`` or ``'processes'`` for ``workers`` on a host of ``host_cpus`` CPUs (default:
  :func:`cpus`)."""
  if check_workers(workers) != 'auto':
    return workers
  return 'processes' if (host_cpus or cpus()) > THREADS_UP_TO_CPUS else 'threads'


_TFDS_LOCK = threading.Lock()  # Reader threads open a split's source once between them.


@functools.lru_cache(maxsize=8)
def _tfds_source(name: str, data_dir: str | None, split: str):
  tfds = optional_deps.import_tfds(name)
  builder = tfds.builder(name, data_dir=data_dir)
  image_key = (builder.info.supervised_keys or ('image', 'label'))[0]
  source = builder.as_data_source(split=split,
                                  decoders={image_key: tfds.decode.SkipDecoding()})
  return source, image_key


def _tfds_record(name: str, data_dir: str | None, location: str) -> bytes:
  split, record = location.rsplit(':', 1)
  with _TFDS_LOCK:
    source, image_key = _tfds_source(name, data_dir, split)
  return source[int(record)][image_key]


class ImageReader:
  """One split's images by location, decoded and transformed, one example per call (thread-safe:
  the reader threads share it; picklable: reader processes get a copy). Its batches are read on
  ``reader['readers']`` (default: one per CPU) ``reader['workers']`` (:data:`WORKERS`), from
  ``config.runtime.stream_readers`` and ``stream_workers``.

  ``location`` (bytes) is a file path relative to the image folder, or ``<split>:<record>`` of a
  TFDS ArrayRecord dataset.
  """

  def __init__(self, reader: Mapping[str, Any], image_shape: tuple[int, ...]):
    self.reader, self.image_shape = dict(reader), tuple(image_shape)
    self.channels = self.image_shape[-1]
    self.image_size = self.reader.get('image_size')  # None: images as stored.
    self.workers = check_workers(self.reader.get('workers', 'auto'))
    self.readers = self.reader.get('readers') or cpus()

  def describe(self, location) -> str:
    """Where ``location`` is, for a message: the file, or the TFDS record."""
    location = location.decode() if isinstance(location, bytes) else str(location)
    if self.reader['kind'] == 'image_folder':
      return f"{self.reader['root']}/{location}"
    return f"TFDS {self.reader['name']} record {location}"

  def decoded(self, location: bytes) -> np.ndarray:
    """The stored image at ``location``: uint8 ``(H, W, channels)``; a file that cannot be read
    or decoded is an :class:`~datadiet.errors.InputError` naming it."""
    try:
      if self.reader['kind'] == 'image_folder':  # Locations are relative to the folder.
        with open(os.path.join(self.reader['root'], location.decode()), 'rb') as f:
          encoded = f.read()
      else:
        encoded = _tfds_record(self.reader['name'], self.reader.get('data_dir'),
                               location.decode())
      return image_ops.as_channels(image_folder.decode_image(encoded), self.channels)
    except (OSError, ValueError) as e:  # Pillow's UnidentifiedImageError is an OSError.
      raise errors.InputError(f'{self.describe(location)} cannot be read or decoded '
                              f'({image_folder.image_error_reason(e)}); '
                              + image_folder.REPLACE_IT) from None

  def _fixed(self, image: np.ndarray, location: bytes) -> np.ndarray:
    """The evaluation transform: to ``image_size``, or checked to be the one stored size."""
    if self.image_size is not None:
      return image_ops.resize_and_crop(image, self.image_size)
    if image.shape != self.image_shape:  # Sizes were checked when indexed; the file changed.
      raise errors.InputError(
          f'{self.describe(location)} is {image.shape[0]}×{image.shape[1]}, not the '
          f'{self.image_shape[0]}×{self.image_shape[1]} of the dataset; resize it or set '
          'config.data.image_size.')
    return image

  def evaluation(self, location: bytes) -> np.ndarray:
    """One example's uint8 image for evaluation and scoring."""
    return self._fixed(self.decoded(location), location)

  def training(self, location: bytes, augmentation: str, attempts: np.ndarray | None = None,
               flip: bool = False) -> np.ndarray:
    """One example's uint8 training image: random-resized crop and flip with its draws
    (``attempts``, ``flip``), or the evaluation transform (``pad_crop_flip`` follows in the
    jitted step, as on the device path)."""
    image = self.decoded(location)
    if augmentation == 'resized_crop_flip':
      return resized_crop.crop_resize_flip(image, attempts, flip, self.image_shape[0])
    return self._fixed(image, location)


def _thread_batches(plans: Iterator[list[tuple]], read: Callable[..., np.ndarray],
                    image_shape: tuple[int, ...], ahead: int,
                    threads: int) -> Iterator[np.ndarray]:
  """:func:`read_batches` on threads: each batch split into one contiguous chunk per thread,
  written in place."""
  pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix='datadiet-reader')

  def fill(out, items, first):
    for j, item in enumerate(items):
      out[first + j] = read(*item)

  def submit(plan):
    out = np.empty((len(plan), *image_shape), np.uint8)
    return out, [pool.submit(fill, out, plan[a:b], a) for a, b in _chunks(len(plan), threads)]

  in_flight = collections.deque(submit(plan) for plan in itertools.islice(plans, ahead))
  try:
    while in_flight:
      out, futures = in_flight.popleft()
      for future in futures:
        future.result()
      following = next(plans, None)
      if following is not None:
        in_flight.append(submit(following))
      yield out
  finally:  # Also when the consumer stops early: drop what was not started. (Not
    # shutdown(cancel_futures=True): at interpreter exit, where an unfinished generator is
    # closed, the modules it needs are gone.)
    for _, futures in in_flight:
      for future in futures:
        future.cancel()
    pool.shutdown(wait=False)


def read_batches(plans: Iterable[list[tuple]], read: Callable[..., np.ndarray],
                 image_shape: tuple[int, ...], workers: str = 'auto', ahead: int = 3,
                 count: int | None = None) -> Iterator[np.ndarray]:
  """``np.stack([read(*item) for item in plan])`` for each plan (one batch's per-example
  arguments; none longer than the first), in order, with up to ``ahead`` batches in flight, on
  ``count`` (default: :func:`cpus`) ``workers`` (:data:`WORKERS`; ``read`` must be picklable
  for processes: a bound method of an :class:`ImageReader`). An error in a worker (a file that
  cannot be read) is raised here, at its batch."""
  kind = resolve_workers(workers)  # By the host's CPUs, not by how many readers were asked for.
  count = count or cpus()
  plans = iter(plans)
  if kind == 'threads':
    return _thread_batches(plans, read, image_shape, ahead, count)
  return _process_batches(plans, read, image_shape, ahead, count)


def _chunks(length: int, parts: int) -> list[tuple[int, int]]:
  bounds = np.linspace(0, length, min(parts, max(length, 1)) + 1).astype(int)
  return list(zip(bounds.tolist(), bounds[1:].tolist()))


_ATTACHED: collections.OrderedDict = collections.OrderedDict()  # A reader process's segments.


def _fill_segment(read: Callable[..., np.ndarray], name: str, shape: tuple[int, ...],
                  first: int, items: list[tuple]) -> None:
  """In a reader process: ``read(*item)`` into rows ``first, first + 1, ...`` of the batch
  ``shape`` held by shared-memory segment ``name`` (attached once, the last few kept)."""
  segment = _ATTACHED.pop(name, None) or shared_memory.SharedMemory(name=name)
  _ATTACHED[name] = segment
  while len(_ATTACHED) > 16:  # Segments of finished passes (unlinked by their owner).
    _ATTACHED.popitem(last=False)[1].close()
  out = np.ndarray(shape, np.uint8, buffer=segment.buf)
  try:
    for j, item in enumerate(items):
      out[first + j] = read(*item)
  finally:
    del out  # No view may outlive a close().


_OWNED: dict[str, shared_memory.SharedMemory] = {}  # This process's live batch slots.


def _release(segments: list[shared_memory.SharedMemory],
             owned: dict[str, shared_memory.SharedMemory]) -> None:
  """Unmaps and unlinks those of ``segments`` still in ``owned`` (once, whoever comes first: a
  finished pass, or the interpreter's exit, where a suspended pass may never be closed)."""
  for segment in segments:
    if owned.pop(segment.name, None) is not None:
      segment.close()
      segment.unlink()


atexit.register(lambda: _release(list(_OWNED.values()), _OWNED))

_POOLS: dict[int, concurrent.futures.ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _start_reader() -> None:
  """In a new reader process: leave Ctrl-C to the training process (which stops the pool), and
  exit as soon as that process is gone, however it ended (killed, or ``os._exit``)."""
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  parent = multiprocessing.parent_process()
  if parent is not None:
    threading.Thread(target=lambda: (parent.join(), os._exit(0)), daemon=True).start()


def _process_pool(count: int) -> concurrent.futures.ProcessPoolExecutor:
  """This process's pool of ``count`` reader processes, started once (spawned: forking a
  process that runs JAX's threads can deadlock the child), replaced if one died."""
  with _POOLS_LOCK:
    pool = _POOLS.get(count)
    if pool is None or getattr(pool, '_broken', False):
      pool = _POOLS[count] = concurrent.futures.ProcessPoolExecutor(
          count, mp_context=multiprocessing.get_context('spawn'), initializer=_start_reader)
    return pool


def shutdown() -> None:
  """Stops this process's reader processes and frees its batch slots now: for an exit that
  skips the interpreter's shutdown (``launch.py``'s one-line error), which would leave them to
  the resource tracker's warnings."""
  with _POOLS_LOCK:
    pools = list(_POOLS.values())
    _POOLS.clear()
  for pool in pools:
    pool.shutdown(wait=True, cancel_futures=True)
  _release(list(_OWNED.values()), _OWNED)


def _process_batches(plans: Iterator[list[tuple]], read: Callable[..., np.ndarray],
                     image_shape: tuple[int, ...], ahead: int,
                     count: int) -> Iterator[np.ndarray]:
  """:func:`read_batches` on reader processes: ``ahead`` shared-memory slots of one batch each,
  each batch split into one chunk per process and copied out once complete."""
  first = next(plans, None)
  if first is None:
    return
  capacity = len(first)
  pool = _process_pool(count)
  slot_bytes = max(1, capacity * math.prod(image_shape))
  segments = [shared_memory.SharedMemory(create=True, size=slot_bytes) for _ in range(ahead)]
  owned, release = _OWNED, _release  # Bound here: at interpreter exit globals may be gone.
  owned.update((segment.name, segment) for segment in segments)

  def submit(slot, plan):
    if len(plan) > capacity:
      raise ValueError(f'A batch of {len(plan)} after a first of {capacity}.')
    shape = (len(plan), *image_shape)
    return slot, shape, [pool.submit(_fill_segment, read, segments[slot].name, shape, a,
                                     plan[a:b]) for a, b in _chunks(len(plan), count)]

  plans = itertools.chain([first], plans)
  in_flight = collections.deque()
  try:
    in_flight.extend(submit(slot, plan) for slot, plan in zip(range(ahead), plans))
    while in_flight:
      slot, shape, futures = in_flight.popleft()
      for future in futures:
        future.result()
      out = np.ndarray(shape, np.uint8, buffer=segments[slot].buf).copy()
      following = next(plans, None)
      if following is not None:
        in_flight.append(submit(slot, following))
      yield out
  except Exception as error:  # Not `except BrokenProcessPool`: a generator closed at
    # interpreter exit evaluates it after module attributes are gone.
    if not isinstance(error, BrokenProcessPool):
      raise
    raise errors.InputError(
        "A reader process of the stream stopped: killed (out of memory? lower "
        "config.runtime.stream_readers), or it could not start (a script of your own that "
        "streams on processes must guard its entry point with if __name__ == '__main__':); "
        "or read on threads (config.runtime.stream_workers='threads').") from None
  finally:  # Also when the consumer stops early. A running task still writes into its
    # segment's mapping in the reader process, which outlives the unlink.
    for _, _, futures in in_flight:
      for future in futures:
        future.cancel()
    release(segments, owned)
