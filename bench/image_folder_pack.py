"""An image folder as one file of encoded bytes, to carry a dataset where only one file fits.

CIFAR-10's 60,000 JPEGs are 55 MB of bytes but hundreds of MB on disk (a block per file, a
header per tar entry); packed they stay 55 MB. Unpacking writes the same files back, bit for bit.

  python bench/image_folder_pack.py --folder=../shared/datasets/cifar10_jpeg \
      --packed=.data/cifar10_jpeg.npz            # pack
  python bench/image_folder_pack.py --packed=.data/cifar10_jpeg.npz --folder=/tmp/cifar10 \
      --unpack
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from absl import app, flags

_FOLDER = flags.DEFINE_string('folder', None, 'The image folder (<split>/<class>/<file>).')
_PACKED = flags.DEFINE_string('packed', None, 'The packed .npz file.')
_UNPACK = flags.DEFINE_bool('unpack', False, 'Unpack --packed into --folder (default: pack).')


def pack(folder: str | Path, packed: str | Path) -> int:
  """Writes every file under ``folder`` into ``packed``; returns the number of files."""
  folder = Path(folder)
  files = sorted(p for p in folder.rglob('*') if p.is_file())
  if not files:
    raise SystemExit(f'image_folder_pack: no files under {folder} (not a directory, or empty); '
                     'give the image folder holding train/<class>/ and test/<class>/.')
  blobs = [p.read_bytes() for p in files]
  offsets = np.cumsum([0] + [len(b) for b in blobs])
  Path(packed).parent.mkdir(parents=True, exist_ok=True)
  tmp = Path(f'{packed}.tmp.npz')
  np.savez(tmp, paths=np.array([str(p.relative_to(folder)) for p in files]),
           offsets=offsets, data=np.frombuffer(b''.join(blobs), np.uint8))
  tmp.replace(packed)
  return len(files)


def unpack(packed: str | Path, folder: str | Path) -> int:
  """Writes the files of ``packed`` under ``folder``; returns the number of files."""
  folder = Path(folder)
  with np.load(packed) as archive:
    paths, offsets, data = archive['paths'], archive['offsets'], archive['data']
  for i, relative in enumerate(paths.tolist()):
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[offsets[i]:offsets[i + 1]].tobytes())
  return len(paths)


def main(argv):
  del argv
  if _UNPACK.value:
    count = unpack(_PACKED.value, _FOLDER.value)
  else:
    count = pack(_FOLDER.value, _PACKED.value)
  print(f'{count} files; {os.path.getsize(_PACKED.value) / 2**20:.1f} MiB packed.')


if __name__ == '__main__':
  flags.mark_flags_as_required(['folder', 'packed'])
  app.run(main)
