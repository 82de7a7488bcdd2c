"""Reader threads and reader processes give what a plain loop over the examples gives, name a
file that cannot be read, and leave no shared memory behind."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from datadiet import errors
from datadiet.data import image_reader, resized_crop, sources, streaming

ROOT = Path(__file__).resolve().parents[2]


def _reader(data):
  return image_reader.ImageReader(data.reader, data.image_shape)


def _crop_plans(data, batch_size):
  """Training plans of random-resized crops, the last batch shorter than the others."""
  locations = data.train['location']
  draws = resized_crop.draw(0, 0, 0, len(locations))
  items = [(location, 'resized_crop_flip', draws['attempts'][i], bool(draws['flip'][i]))
           for i, location in enumerate(locations)]
  return [items[i:i + batch_size] for i in range(0, len(items), batch_size)]


@pytest.mark.parametrize('workers', ['threads', 'processes'])
def test_batches_equal_a_plain_loop(workers, tmp_path, write_varied_image_folder):
  data = sources.index(write_varied_image_folder(tmp_path / 'images'), image_size=12)
  reader = _reader(data)
  plans = _crop_plans(data, batch_size=4)  # 18 examples: 4, 4, 4, 4, 2.
  batches = list(image_reader.read_batches(iter(plans), reader.training, reader.image_shape,
                                           workers, count=2))
  assert [len(b) for b in batches] == [4, 4, 4, 4, 2]
  for plan, batch in zip(plans, batches, strict=True):
    np.testing.assert_array_equal(batch, np.stack([reader.training(*item) for item in plan]))


def test_a_file_that_cannot_be_decoded_is_named_from_a_reader_process(
    tmp_path, write_varied_image_folder):
  data = sources.index(write_varied_image_folder(tmp_path / 'images'), image_size=8)
  bad = tmp_path / 'images' / 'train' / 'dog' / '03.jpg'
  bad.write_bytes(bad.read_bytes()[:len(bad.read_bytes()) // 2])  # Its header reads.
  reader = _reader(data)
  plans = [[(location,)] for location in data.train['location']]
  with pytest.raises(errors.InputError, match=r'train/dog/03\.jpg cannot be read or decoded'):
    list(image_reader.read_batches(iter(plans), reader.evaluation, reader.image_shape,
                                   'processes', count=2))


def _segments() -> set[str]:
  return {name for name in os.listdir('/dev/shm') if name.startswith('psm_')}


@pytest.mark.skipif(not os.path.isdir('/dev/shm'), reason='POSIX shared memory in /dev/shm')
def test_shared_memory_is_released_when_a_consumer_stops_early(tmp_path,
                                                               write_varied_image_folder):
  data = sources.index(write_varied_image_folder(tmp_path / 'images'), image_size=8)
  reader = _reader(data)
  before = _segments()
  batches = image_reader.read_batches(iter(_crop_plans(data, 3)), reader.training,
                                      reader.image_shape, 'processes', count=2)
  next(batches)
  assert len(_segments() - before) == 3  # One slot per batch in flight.
  batches.close()
  assert _segments() == before


def test_the_configured_reader_count_is_the_pool_size(tmp_path, write_varied_image_folder):
  data = sources.index(write_varied_image_folder(tmp_path / 'images'), image_size=8)
  reader = image_reader.ImageReader(dict(data.reader, workers='processes', readers=3),
                                    data.image_shape)
  assert reader.readers == 3 and _reader(data).readers == image_reader.cpus()
  plans = [[(location,)] * 2 for location in data.train['location'][:3]]
  batches = list(streaming._read_batches(iter(plans), reader.evaluation, reader))  # pylint: disable=protected-access
  assert len(batches) == 3
  assert image_reader._POOLS[3]._max_workers == 3  # pylint: disable=protected-access


def test_auto_is_threads_up_to_four_cpus_and_bad_values_are_refused():
  assert image_reader.resolve_workers('auto', 2) == 'threads'
  assert image_reader.resolve_workers('auto', 4) == 'threads'
  assert image_reader.resolve_workers('auto', 16) == 'processes'
  assert image_reader.resolve_workers('threads', 16) == 'threads'
  with pytest.raises(errors.InputError, match="stream_workers='gpu' is not one of auto"):
    image_reader.resolve_workers('gpu')


def test_a_process_stream_left_unfinished_exits_quietly(tmp_path, write_varied_image_folder):
  """A run stopped mid-stream: reader processes and shared memory end with the interpreter, no
  traceback and no leaked-memory warning after the run's own output."""
  name = write_varied_image_folder(tmp_path / 'images')
  script = ('import dataclasses\n'
            'from datadiet.data import sources, streaming\n'
            f'data = sources.index({name!r}, image_size=8)\n'
            "data = dataclasses.replace(data, reader=dict(data.reader, workers='processes'))\n"
            'batches = streaming.StreamedExamples(streaming.reader_for(data), '
            "data.train['location'], data.train['label'], stats=None).batches(2)\n"
            'next(batches)\n')
  result = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Traceback' not in result.stderr and 'leaked' not in result.stderr, result.stderr


def _exited(pid: int) -> bool:
  try:
    return Path(f'/proc/{pid}/status').read_text().split('State:')[1].split()[0] in ('Z', 'X')
  except (FileNotFoundError, IndexError):
    return True


@pytest.mark.skipif(not os.path.isdir('/proc'), reason='reads /proc')
def test_readers_exit_with_a_training_process_that_skips_its_shutdown(tmp_path,
                                                                      write_varied_image_folder):
  """``os._exit`` (launch.py's one-line error) or a kill: no reader outlives its process."""
  name = write_varied_image_folder(tmp_path / 'images')
  script = ('import dataclasses, os\n'
            'from datadiet.data import image_reader, sources, streaming\n'
            "if __name__ == '__main__':\n"
            f'  data = sources.index({name!r}, image_size=8)\n'
            "  data = dataclasses.replace(data, reader=dict(data.reader, workers='processes',\n"
            '                                                readers=2))\n'
            '  batches = streaming.StreamedExamples(streaming.reader_for(data), '
            "data.train['location'], data.train['label'], stats=None).batches(2)\n"
            '  next(batches)\n'
            '  print(*image_reader._POOLS[2]._processes, flush=True)\n'
            '  os._exit(0)\n')
  # Readers that outlived it would hold its output pipe open: the timeout fails the test.
  result = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False,
                          timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  readers = [int(pid) for pid in result.stdout.split()]
  assert len(readers) == 2
  deadline = time.monotonic() + 20
  while not all(map(_exited, readers)) and time.monotonic() < deadline:
    time.sleep(0.1)
  assert all(map(_exited, readers))


def test_shutdown_stops_the_readers_and_frees_the_slots(tmp_path, write_varied_image_folder):
  data = sources.index(write_varied_image_folder(tmp_path / 'images'), image_size=8)
  reader = _reader(data)
  batches = image_reader.read_batches(iter(_crop_plans(data, 3)), reader.training,
                                      reader.image_shape, 'processes', count=2)
  next(batches)
  pool = image_reader._POOLS[2]  # pylint: disable=protected-access
  processes = list(pool._processes.values())  # pylint: disable=protected-access
  assert image_reader._OWNED  # pylint: disable=protected-access
  image_reader.shutdown()
  assert not image_reader._OWNED and not image_reader._POOLS  # pylint: disable=protected-access
  assert not any(process.is_alive() for process in processes)
