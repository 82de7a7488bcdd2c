"""Which exact per-example norm a Dense/Conv layer uses: ghost or materialised (and, for a
convolution, whether its loop over kernel offsets is unrolled), by FLOPs or by measured time.

FLOPs predict the winner on a CPU, but not on a GPU, where the ghost norm's ``T × T`` Gram
matrices and the materialised form's ``K × C`` products run at very different efficiencies
(memory-bound batched matmuls against tensor-core GEMMs, and bfloat16 halves one but not the
other), and where an unrolled loop over kernel offsets may beat a ``lax.scan``. ``'measure'``
compiles every candidate form for the layer's exact shapes and dtypes on the default backend,
and runs only those whose planned peak memory is within :data:`MAX_MEMORY_RATIO` of the leanest
(unrolling offsets once cost 3.8× the memory) or a few times the layer's own arrays, on
device-resident arguments, keeping the fastest; a form that cannot compile (out of memory), or
a ghost form whose Gram matrix alone exceeds the device's memory, is left out; each geometry is
measured once per process (:func:`measurements` lists what was timed). ``'auto'`` is
``'measure'`` on GPU/TPU and the FLOPs rule on CPU (measured there to pick well, and cheaper to
decide). In a multi-process run both are the FLOPs rule: timings differ between processes, and
every process must compile the same program.

Forms are ``'ghost'`` and ``'materialize'``, and for convolutions also ``'ghost/unrolled'`` and
``'materialize/unrolled'``. All are exact: the choice changes the speed, and the scores only by
float rounding (the sums run in another order). A pipeline writes each score file once, so a
relaunch that times differently never mixes forms within a file.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from datadiet import device_memory, errors
from datadiet.scores import layer_norms

TuningMethod = Literal['auto', 'ghost', 'materialize', 'measure', 'flops']
TUNING_METHODS = ('auto', 'ghost', 'materialize', 'measure', 'flops')
DENSE_FORMS = ('ghost', 'materialize')
CONV_FORMS = ('ghost', 'materialize', 'ghost/unrolled', 'materialize/unrolled')
MAX_MEMORY_RATIO = 2.0
# A form planned within this many times the layer's own input and output-gradient bytes is
# affordable whatever the leanest plans (the backward pass holds those arrays anyway). Without
# it a ratio to a near-zero plan excludes everything: XLA on a CPU planned a 1×1 convolution's
# ghost norm at 56² positions with no temporaries at all (a fused, 10× slower loop), and ruled out
# the materialised form's 8 MB.
ARGUMENT_MEMORY_RATIO = 4.0
_REPEATS = 5
_measured: dict[Hashable, str] = {}
_timings: dict[Hashable, dict] = {}


def _backend() -> str:
  return jax.default_backend()


def parse_form(form: str) -> tuple[str, bool]:
  """``'materialize/unrolled'`` → ``('materialize', True)``."""
  method, _, loop = form.partition('/')
  return method, loop == 'unrolled'


def _compile(fn: Callable, args: tuple):
  """``fn`` compiled for ``args`` and its planned peak bytes (temporaries + outputs); ``(None,
  inf)`` where it cannot compile: on a GPU, XLA's autotuner allocates a form's buffers while
  compiling, and a ghost norm's ``T × T`` Gram matrices at ImageNet's stem (``T`` = 112², batch
  256: 150 GiB) fail there with RESOURCE_EXHAUSTED, not when run."""
  try:
    compiled = jax.jit(fn).lower(*args).compile()
  except RuntimeError as e:
    if device_memory.is_out_of_memory(e):
      return None, float('inf')
    raise  # A bug, not a size: the caller sees it.
  memory = compiled.memory_analysis()
  return compiled, int(memory.temp_size_in_bytes + memory.output_size_in_bytes) if memory else 0


def _gram_exceeds_device(form: str, output_grads: jax.ShapeDtypeStruct) -> bool:
  """Whether a ghost form's two ``(batch, T, T)`` float32 Gram matrices (inputs' and
  output-gradients') alone exceed the device's memory: left out without compiling (XLA's
  autotuner would try to allocate them, and print the failure, for every such layer). Never
  true where the device does not report its memory."""
  if parse_form(form)[0] != 'ghost':
    return False
  positions = int(np.prod(output_grads.shape[1:-1]))
  return 2 * output_grads.shape[0] * positions**2 * 4 > _device_memory_bytes()


def _device_memory_bytes() -> float:
  """The default device's memory limit, or infinity where it reports none (a CPU)."""
  return device_memory.device_memory_bytes(jax.devices()[0]) or float('inf')


def _seconds(compiled, args: tuple) -> float:
  """Best of a few calls (after a warm-up); infinite if the call fails (out of memory)."""
  try:
    jax.block_until_ready(compiled(*args))
    best = float('inf')
    for _ in range(_REPEATS):
      start = time.perf_counter()
      jax.block_until_ready(compiled(*args))
      best = min(best, time.perf_counter() - start)
    return best
  except RuntimeError as e:
    if device_memory.is_out_of_memory(e):
      return float('inf')
    raise


def measured_form(make_sq_norms: Callable[[str], Callable], inputs: jax.ShapeDtypeStruct,
                  output_grads: jax.ShapeDtypeStruct, forms: Sequence[str],
                  key: Hashable) -> str:
  """The form whose ``make_sq_norms(form)(inputs, output_grads)`` runs fastest on the default
  backend for these shapes, among those planned within :data:`MAX_MEMORY_RATIO` of the leanest
  or :data:`ARGUMENT_MEMORY_RATIO` of the arguments (only those are run; cached under ``key``,
  the shapes and the forms)."""
  cache_key = (_backend(), key, tuple(forms), inputs.shape, str(inputs.dtype),
               output_grads.shape, str(output_grads.dtype))
  if cache_key not in _measured:
    # On the device, created eagerly even inside a jitted caller's trace: NumPy arguments would
    # be copied to the device on every timed call, and on a GPU that copy (1 GB for a ResNet50
    # layer at batch 256) outweighed the forms' differences, so the choice was noise.
    with jax.ensure_compile_time_eval():
      args = (jnp.ones(inputs.shape, inputs.dtype),
              jnp.ones(output_grads.shape, output_grads.dtype))
    compiled = {form: (None, float('inf')) if _gram_exceeds_device(form, output_grads)
                else _compile(make_sq_norms(form), args) for form in forms}
    budget = max(MAX_MEMORY_RATIO * min(peak for _, peak in compiled.values()),
                 ARGUMENT_MEMORY_RATIO * sum(a.nbytes for a in args))
    seconds = {form: _seconds(program, args) for form, (program, peak) in compiled.items()
               if program is not None and peak <= budget}
    if not seconds or min(seconds.values()) == float('inf'):
      raise errors.OutOfMemoryError(
          f'No per-example norm form of a layer with inputs {inputs.shape} fits on '
          f'{jax.devices()[0].device_kind}: lower config.runtime.score_batch_size.')
    _measured[cache_key] = min(seconds, key=seconds.get)
    _timings[cache_key] = dict(
        layer=key, inputs=inputs.shape, output_grads=output_grads.shape,
        dtype=str(inputs.dtype), chosen=_measured[cache_key],
        seconds={form: seconds.get(form) for form in forms},
        planned_bytes={form: peak for form, (_, peak) in compiled.items()})
  return _measured[cache_key]


def measurements() -> list[dict]:
  """What ``'measure'`` timed in this process, one entry per layer geometry and shapes:
  ``layer`` (its key), ``inputs`` / ``output_grads`` shapes, ``dtype``, the ``chosen`` form,
  ``seconds`` per form (``None``: not run, planned over budget or left out before compiling;
  ``inf``: out of memory when run) and ``planned_bytes`` per form (``inf``: out of memory
  while compiling, or its Gram matrices alone larger than the device).
  ``bench/grand_layers.py`` reads it to show where GraNd's time goes."""
  return copy.deepcopy(list(_timings.values()))


def choose(method: TuningMethod, make_sq_norms: Callable[[str], Callable],
           inputs: jax.ShapeDtypeStruct, output_grads: jax.ShapeDtypeStruct, kernel_inputs: int,
           key: Hashable, forms: Sequence[str] = DENSE_FORMS) -> str:
  """The form one layer uses.

  Args:
    method: 'ghost' / 'materialize' (forced, offsets in a scan), 'flops' (the cheaper by FLOPs),
      'measure' (the fastest of ``forms`` on this backend; 'flops' in a multi-process run), or
      'auto' ('measure' on GPU/TPU, 'flops' on CPU).
    make_sq_norms: ``form -> (inputs, output_grads) -> (batch,)`` for this layer.
    inputs, output_grads: the layer's input (as the kernel sees it) and output shapes.
    kernel_inputs: input entries per kernel column (``k² · C_in`` for a convolution).
    key: what else identifies the layer's computation (its geometry).
    forms: the candidates :func:`measured_form` times.
  """
  if method not in TUNING_METHODS:
    raise ValueError(f'Unknown norm method {method!r}; valid: {", ".join(TUNING_METHODS)}.')
  if method == 'auto':
    method = 'flops' if _backend() == 'cpu' else 'measure'
  if method == 'measure' and jax.process_count() > 1:
    method = 'flops'  # Each process would time its own choice and compile its own program.
  if method == 'measure':
    return measured_form(make_sq_norms, inputs, output_grads, forms, key)
  positions = 1
  for size in output_grads.shape[1:-1]:
    positions *= size
  return layer_norms.choose_method(positions, kernel_inputs, output_grads.shape[-1],
                                   'auto' if method == 'flops' else method)
