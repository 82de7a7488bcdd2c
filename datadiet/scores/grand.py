"""GraNd: the per-example gradient norm ``‖∇_θ loss(f_θ(x), y)‖₂`` over all parameters.

Two exact implementations:

* :func:`grand_generic` works for any per-example loss ``loss(params, x, y)`` and any params
  pytree: ``vmap(grad)`` over microbatches inside one ``lax.map``, so memory is bounded by
  ``microbatch_size × #params`` however large the batch.
* :func:`datadiet.scores.grand_linen.grand_linen`, the fast path for Flax linen models built
  from Dense, Conv, normalisation and parameter-free layers: one backward pass.

:func:`grand` dispatches between them for a linen model and falls back to the generic path
when the fast path reports a layer it cannot handle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from absl import logging

from datadiet.scores import checks, norm_tuning
from datadiet.scores.grand_linen import UnsupportedModelError, grand_linen
from datadiet.scores.losses import LogitLossFn, softmax_cross_entropy
from datadiet.scores.registry import Score, register

Array = jax.Array
# (params, one input without batch axis, one label) -> scalar loss.
ExampleLossFn = Callable[[Any, Array, Array], Array]
GRAND_METHODS = ('auto', 'fast', 'generic')


def grand_generic(example_loss: ExampleLossFn, params: Any, inputs: Array, labels: Array,
                  mask: Array | None = None, *, microbatch_size: int = 16) -> Array:
  """Exact per-example gradient norms for any loss, in microbatches of ``vmap(grad)``.

  Example::

    def example_loss(params, x, y):            # one example, no batch axis
      logits = mlp_apply(params, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y)

    norms = grand_generic(example_loss, params, xs, ys, mask, microbatch_size=32)

  Args:
    example_loss: ``(params, x, y) -> scalar`` for a single example.
    params: the pytree to differentiate; every leaf counts towards the norm.
    inputs, labels: batches with a leading example axis.
    mask: boolean ``(batch,)``; False (padding) gives 0.
    microbatch_size: examples whose gradients are held at once; the peak extra memory is
      ``microbatch_size × #params`` floats. Need not divide the batch.
  """
  if microbatch_size < 1:
    raise ValueError(f'microbatch_size must be >= 1, got {microbatch_size}.')
  checks.check_batch(jax.tree.leaves(inputs)[0].shape[0], labels, mask, what='grand_generic',
                     class_labels=False)
  labels = checks.zero_padding_labels(labels, mask)

  def one_example(example):
    x, y = example
    return optax.tree_utils.tree_norm(jax.grad(example_loss)(params, x, y))

  norms = jax.lax.map(one_example, (inputs, labels),
                      batch_size=min(microbatch_size, labels.shape[0]))
  return norms if mask is None else jnp.where(mask, norms, 0.0)


def linen_example_loss(model: nn.Module, variables: Mapping[str, Any],
                       apply_kwargs: Mapping[str, Any] | None = None,
                       loss_fn: LogitLossFn = softmax_cross_entropy) -> ExampleLossFn:
  """``(params, x, y) -> loss`` of one example for a linen model, other collections fixed."""
  apply_kwargs = dict(apply_kwargs or {})

  def example_loss(params, x, y):
    logits = model.apply({**variables, 'params': params}, x[None], **apply_kwargs)
    return loss_fn(logits, y[None])[0]

  return example_loss


def grand(model: nn.Module, variables: Mapping[str, Any], inputs: Array, labels: Array,
          mask: Array | None = None, *, method: Literal['auto', 'fast', 'generic'] = 'auto',
          loss_fn: LogitLossFn = softmax_cross_entropy,
          apply_kwargs: Mapping[str, Any] | None = None, microbatch_size: int = 16,
          norm_method: norm_tuning.TuningMethod = 'auto') -> Array:
  """Per-example GraNd of a linen model over all of ``variables['params']``.

  Example::

    scores = jax.jit(functools.partial(grand, model, apply_kwargs={'train': False}))(
        variables, images, labels, mask)

  Args:
    model, variables, inputs, labels, mask, loss_fn, apply_kwargs: as in
      :func:`datadiet.scores.grand_linen.grand_linen`.
    method: 'fast' (one backward pass; raises if unsupported), 'generic' (microbatched
      ``vmap(grad)``), or 'auto' (fast, falling back to generic with a logged reason).
    microbatch_size: generic path only.
    norm_method: fast path only: 'auto', 'measure', 'flops', 'ghost' or 'materialize'.
  """
  if method not in GRAND_METHODS:
    raise ValueError(f'Unknown GraNd method {method!r}; valid: {", ".join(GRAND_METHODS)}.')
  if loss_fn is softmax_cross_entropy:  # The paper's loss takes class indices.
    checks.check_batch(jax.tree.leaves(inputs)[0].shape[0], labels, mask, what='grand')
  if method != 'generic':
    try:
      return grand_linen(model, variables, inputs, labels, mask, loss_fn=loss_fn,
                         apply_kwargs=apply_kwargs, norm_method=norm_method)
    except UnsupportedModelError as e:
      if method == 'fast':
        raise
      logging.warning('GraNd: falling back to the generic path. %s', e)
  example_loss = linen_example_loss(model, variables, apply_kwargs, loss_fn)
  return grand_generic(example_loss, variables['params'], inputs, labels, mask,
                       microbatch_size=microbatch_size)


def _grand_of_checkpoint(model, variables, images, labels, mask, apply_kwargs):
  """:func:`grand` as the scoring stage calls a ``'model'`` score."""
  return grand(model, variables, images, labels, mask, apply_kwargs=apply_kwargs)


register(Score('grand', 'model', _grand_of_checkpoint,
               'GraNd: ‖∇_θ loss‖₂ over all parameters (Paul et al. 2021)'))
