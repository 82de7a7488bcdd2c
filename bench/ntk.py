"""NTK Gram benchmark: seconds per block and peak memory of each ``ntk.block_gram`` method.

Prints one JSON object per (model, block size, method, chunk size). Peak memory is XLA's own
buffer assignment for the compiled program (arguments + outputs + temporaries). The
``vector_products`` and ``jacobian`` methods cost B·K passes over the whole block, so they are
only timed at the smaller block sizes unless asked for.

  python bench/ntk.py                                     # small_cnn, blocks of 20 and 50
  python bench/ntk.py --models=resnet18 --block_sizes=100 --methods=vector_products
"""

from __future__ import annotations

import functools
import json
import time

import jax
from absl import app, flags

from datadiet import models
from datadiet.dynamics import ntk

_MODELS = flags.DEFINE_list('models', ['small_cnn'], 'Registered model names.')
_BLOCKS = flags.DEFINE_list('block_sizes', ['20', '50'], 'Block sizes B.')
_METHODS = flags.DEFINE_list('methods', ['per_example', 'vector_products', 'jacobian'],
                             'block_gram methods.')
_CHUNKS = flags.DEFINE_list('chunk_sizes', ['1', '16'], 'chunk_size values.')
_MAX_SLOW_BLOCK = flags.DEFINE_integer(
    'max_slow_block', 20, 'Largest B at which vector_products and jacobian are timed.')
_REPEATS = flags.DEFINE_integer('repeats', 2, 'Timed calls after the compiling one.')


def main(_):
  for name in _MODELS.value:
    model = models.get_model(name, num_classes=10)
    variables = model.init(jax.random.key(1), jax.numpy.zeros((1, 32, 32, 3)), train=False)
    logits_fn = lambda p, x: model.apply(  # noqa: E731
        {'params': p, 'batch_stats': variables['batch_stats']}, x, train=False)
    num_params = sum(x.size for x in jax.tree.leaves(variables['params']))
    for block in map(int, _BLOCKS.value):
      images = jax.random.normal(jax.random.key(0), (block, 32, 32, 3))
      for method in _METHODS.value:
        if method != 'per_example' and block > _MAX_SLOW_BLOCK.value:
          continue
        for chunk in ([None] if method == 'jacobian' else map(int, _CHUNKS.value)):
          gram = jax.jit(functools.partial(ntk.block_gram, logits_fn, method=method,
                                           chunk_size=chunk))
          compiled = gram.lower(variables['params'], images).compile()
          stats = compiled.memory_analysis()
          peak = (stats.argument_size_in_bytes + stats.output_size_in_bytes +
                  stats.temp_size_in_bytes - stats.alias_size_in_bytes)
          compiled(variables['params'], images).block_until_ready()
          start = time.perf_counter()
          for _ in range(_REPEATS.value):
            compiled(variables['params'], images).block_until_ready()
          seconds = (time.perf_counter() - start) / _REPEATS.value
          print(json.dumps(dict(model=name, num_params=num_params, block_size=block,
                                method=method, chunk_size=chunk, seconds_per_block=seconds,
                                peak_memory_mib=peak / 2**20,
                                backend=jax.default_backend())), flush=True)


if __name__ == '__main__':
  app.run(main)
