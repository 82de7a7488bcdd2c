"""``image_folder:<path>``: a ``tfds.ImageFolder`` tree ``<path>/<split>/<class>/<file>`` (splits
``train`` and ``test``; JPEG or PNG), decoded with Pillow, so no TensorFlow is needed.

Labels index the sorted class names, as ``tfds.ImageFolder``'s do; ids are ``<class>/<file>``.
JPEGs decode with libjpeg's accurate integer DCT (TensorFlow's ``dct_method='INTEGER_ACCURATE'``;
TensorFlow's default fast DCT differs by up to 4 grey levels). :func:`load` reads every image
into memory; :func:`index` lists them for streaming, every file's header checked first.
:func:`decode_image` is the one decoder of every input path, in memory and streamed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from datadiet import errors
from datadiet.data.dataset import Dataset, sorted_by_id

# What a message about an unreadable image asks for: removing it changes the dataset, which a
# relaunch into the same workdir refuses (workdir.check_dataset).
REPLACE_IT = 'replace it with a readable copy (or remove it and start a new workdir).'


IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')  # What tfds.ImageFolder reads.


def decode_image(encoded: bytes) -> np.ndarray:
  """Encoded image bytes (any format Pillow reads; JPEGs with libjpeg's accurate integer DCT,
  Pillow's default) → uint8 ``(H, W)`` grey or ``(H, W, 3)`` colour pixels. Raises ``OSError``
  or ``ValueError`` for bytes that are no readable image. The one decoder of every input path,
  in memory and streamed."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(io.BytesIO(encoded)) as image:
    if image.mode.startswith('I;16'):  # 16-bit grey: keep the 8 high bits, as TF's uint8.
      return (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
    if image.mode in ('I', 'F'):
      raise ValueError(f'{image.mode!r} (32-bit) pixels have no uint8 reading')
    if image.mode not in ('L', 'RGB'):
      image = image.convert('RGB')  # Palette, alpha, CMYK: as RGB.
    return np.asarray(image)


def image_error_reason(error: Exception) -> str:
  """Why Pillow cannot read an image, for a one-line message (without its object reprs)."""
  from PIL import UnidentifiedImageError  # pylint: disable=g-import-not-at-top
  if isinstance(error, UnidentifiedImageError):
    return 'not an image format Pillow reads'
  return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _decode(path: Path) -> np.ndarray:
  try:
    return decode_image(path.read_bytes())
  except (OSError, ValueError) as e:  # Pillow's UnidentifiedImageError is an OSError.
    raise errors.InputError(f'image_folder: cannot decode {path} ({image_error_reason(e)}); '
                            + REPLACE_IT) from e


def _read_images(root: str, files: list[Path]) -> np.ndarray:
  """Decodes ``files`` into one uint8 array. One thread: for small images Python's overhead, not
  the decoder, is the cost, and threads only contend for the GIL (CIFAR-10's 60,000 JPEGs:
  3.6 s serial against 6.6 s on 2 threads, 2 CPU cores)."""
  images = [_decode(f) for f in files]
  sizes = [image.shape[:2] for image in images]
  common = max(set(sizes), key=sizes.count)
  odd = next((f, size) for f, size in zip(files, sizes) if size != common) if len(
      set(sizes)) > 1 else None
  if odd:
    raise errors.InputError(
        f'image_folder: {odd[0]} is {odd[1][0]}×{odd[1][1]} but the most common size in {root!r} '
        f'is {common[0]}×{common[1]} ({len(set(sizes))} sizes in all); set '
        'config.data.image_size to read every image resized to one size, or resize them.')
  if any(image.ndim == 3 for image in images):  # Some colour: grey ones become RGB too.
    images = [image if image.ndim == 3 else np.repeat(image[..., None], 3, -1)
              for image in images]
  else:
    images = [image[..., None] for image in images]
  return np.stack(images)


def _split_listing(split_dir: Path) -> list[str]:
  """``<class>/<file>`` of every image under ``split_dir``, by (class, file): plain strings from
  ``os.scandir`` (a million ``Path`` objects would take hundreds of MB)."""
  names = []
  if split_dir.is_dir():  # Classes in order, files in order within each: no sort keys.
    for class_name in sorted(d.name for d in os.scandir(split_dir) if d.is_dir()):
      names += [f'{class_name}/{file}' for file in sorted(
          entry.name for entry in os.scandir(split_dir / class_name)
          if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file())]
  return names


def _folder_listing(root: str) -> tuple[dict[str, list[str]], tuple[str, ...]]:
  """``({split: '<class>/<file>' of its images, sorted}, class names)`` of an image folder, its
  layout checked."""
  root_path = Path(root)
  if not root_path.is_dir():
    where = '' if root_path.is_absolute() else f' (from {Path.cwd()})'
    raise errors.MissingInputError(f'image_folder: no directory at {root!r}{where}; expected '
                                   '<path>/<split>/<class>/<image files> (give it as '
                                   '--config.data.name=image_folder:<path>).')
  files = {}
  for split in ('train', 'test'):
    files[split] = _split_listing(root_path / split)
    if not files[split]:
      raise errors.InputError(
          f'image_folder: {root!r} has no images in {split}/<class>/ (looked for '
          f'{", ".join(IMAGE_SUFFIXES)} files); expected <path>/<split>/<class>/<image files> '
          'for the splits train and test.')
  class_of = lambda names: {name.split('/', 1)[0] for name in names}  # noqa: E731
  unseen = sorted(class_of(files['test']) - class_of(files['train']))
  if unseen:
    raise errors.InputError(
        f'image_folder: {root!r} has test images of classes with no training images: {unseen}; '
        'add training images of them or remove them from test/.')
  # As tfds.ImageFolder: every class folder of every split, sorted, is a label.
  class_names = tuple(sorted({d.name for split in files for d in (root_path / split).iterdir()
                              if d.is_dir()}))
  if len(class_names) < 2:
    raise errors.InputError(
        f'image_folder: {root!r} has {len(class_names)} class; need at least 2.')
  return files, class_names


def load(root: str) -> Dataset:
  """The image folder at ``root`` read whole into memory (all images of one size)."""
  listing, class_names = _folder_listing(root)
  files = {split: [Path(root) / split / name for name in names]
           for split, names in listing.items()}
  label_of = {name: label for label, name in enumerate(class_names)}

  def load_split(split):
    paths = files[split]
    return sorted_by_id({
        'image': _read_images(root, paths),
        'label': np.array([label_of[p.parent.name] for p in paths], np.int32),
        'id': np.array([f'{p.parent.name}/{p.name}' for p in paths])})

  train, test = load_split('train'), load_split('test')
  if train['image'].shape[1:] != test['image'].shape[1:]:  # A model takes one input shape.
    shape = lambda a: '×'.join(map(str, a['image'].shape[1:]))  # noqa: E731
    raise errors.InputError(
        f'image_folder: the test images of {root!r} are {shape(test)} (e.g. '
        f'{files["test"][0]}) but the training images are {shape(train)}; resize them to one '
        'size.')
  return Dataset(f'image_folder:{root}', train, test, num_classes=len(class_names),
                 class_names=class_names)


def _channels_of(paths: list[Path]) -> tuple[int, tuple[int, int]]:
  """``(channels, (height, width) of the first)`` from a few images: 3 if any is in colour (the
  in-memory loader's rule, applied to the first image of each class)."""
  images = [_decode(p) for p in paths]
  return (3 if any(i.ndim == 3 for i in images) else 1), images[0].shape[:2]


def _check_headers(root: str, paths: Iterable[Path], size: tuple[int, int] | None) -> None:
  """Every file's header is an image's (and, given ``size``, of that size): a file that is no
  image stops the run before any work, not when a batch first reads it. Headers only: ~30 µs a
  file (CIFAR-10's 60,000 in 1.7 s, page-cached); a file damaged after its header is found when
  read, with one line naming it."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  for path in paths:
    try:
      with Image.open(path) as image:  # Reads the header only.
        found = (image.height, image.width)
    except OSError as e:  # Pillow's UnidentifiedImageError is an OSError.
      raise errors.InputError(f'image_folder: cannot read {path} ({image_error_reason(e)}); '
                              + REPLACE_IT) from None
    if size is not None and found != tuple(size):
      raise errors.InputError(
          f'image_folder: {path} is {found[0]}×{found[1]} but the first image of {root!r} is '
          f'{size[0]}×{size[1]}; set config.data.image_size to read every image resized to one '
          'size, or resize them to one size.')


def index(root: str, image_size: int | None) -> Dataset:
  """The image folder at ``root`` without its images, for streaming: ids, labels and each
  image's file (``location``), read at ``image_size`` (or as stored, all of one size)."""
  files, class_names = _folder_listing(root)
  label_of = {name: label for label, name in enumerate(class_names)}
  firsts = {}  # The first image of each class, classes in order.
  for name in files['train']:
    firsts.setdefault(name[:name.index('/')], name)
  channels, stored = _channels_of([Path(root) / 'train' / name for name in firsts.values()])
  splits = {}
  for split, names in files.items():
    splits[split] = sorted_by_id({
        'label': np.array([label_of[name[:name.index('/')]] for name in names], np.int32),
        'id': np.array(names),
        # Relative to the root, as UTF-8 bytes: a quarter of a str array's memory.
        'location': np.array([f'{split}/{name}'.encode() for name in names])})
    files[split] = None  # The strings are in the arrays now.
  # Before any work: every file an image, and without image_size, all of the first's size.
  _check_headers(root, (Path(root) / location.decode() for split in splits.values()
                        for location in split['location']), None if image_size else stored)
  size = (image_size, image_size) if image_size else stored
  return Dataset(f'image_folder:{root}', splits['train'], splits['test'],
                 num_classes=len(class_names), class_names=class_names,
                 reader={'kind': 'image_folder', 'root': str(Path(root).resolve()),
                         'image_size': image_size},
                 image_shape=(*size, channels))
