"""GraNd fast path for Flax linen models: exact per-example gradient norms in one backward pass.

How it works. While the model runs, a method interceptor wraps the output of every Dense,
Conv and normalisation layer in an identity ``tap`` with a custom VJP. Its backward rule
receives the layer's output-gradient ``g`` (for every example at once, since the loss is a sum of
independent per-example losses) and turns ``(layer input, g)`` into that layer's per-example
squared parameter-gradient norm, which it returns as the cotangent of one shared ``(batch,)``
"slot". Differentiating the summed loss with respect to the slot therefore yields
``sum over layers of ‖∇_layer loss_i‖²`` — the full squared GraNd — from a single backward pass
that never forms a parameter gradient, and each layer's ``g`` is freed as soon as it is reduced.

Per layer:

* ``nn.Dense`` / ``nn.Conv`` (ungrouped, no input dilation): ghost norm or materialised
  gradient (:mod:`datadiet.scores.layer_norms`), chosen per layer by FLOPs on a CPU and by
  measured time on a GPU/TPU (:mod:`datadiet.scores.norm_tuning`).
* ``nn.BatchNorm`` (evaluation mode only), ``nn.LayerNorm``, ``nn.GroupNorm``, ``nn.RMSNorm``,
  and any layer whose class sets ``grand_per_example_apply = True`` (airbench's whitening, whose
  one parameter is a bias): the layer's own ``apply`` differentiated per example with ``vmap``
  (cheap: their parameters are per-channel vectors).
* Layers without parameters (activations, pooling, reshapes, residual sums) need nothing.

Anything else that owns parameters, a supported layer called more than once (shared weights), a
layer configuration outside the list, or BatchNorm in training mode makes
:func:`grand_linen` raise :class:`UnsupportedModelError` naming the layers, so that
:func:`datadiet.scores.grand` can fall back to the generic path instead of returning a wrong
number. One assumption is not checkable: every layer's leading axis indexes the examples, as in
any model that maps examples independently (which GraNd requires anyway).
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.linen import linear as linen_linear
from flax.linen.module import merge_param

from datadiet.scores import checks, layer_norms, norm_tuning
from datadiet.scores.losses import LogitLossFn, softmax_cross_entropy

Array = jax.Array
# (layer input, output-gradient, layer variables) -> (batch,) squared norms.
SqNormFn = Callable[[Array, Array, Mapping[str, Any]], Array]

_NORM_LAYERS = (nn.BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
SUPPORTED_LAYERS = (nn.Dense, nn.Conv) + _NORM_LAYERS


class UnsupportedModelError(ValueError):
  """The fast path cannot compute exact per-example gradient norms for this model."""


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _tap(sq_norm_fn: SqNormFn, out: Array, layer_input: Array, layer_vars: Any,
         slot: Array) -> Array:
  """Identity on ``out`` whose VJP reports the layer's per-example squared norms to ``slot``."""
  del sq_norm_fn, layer_input, layer_vars, slot
  return out


def _tap_fwd(sq_norm_fn, out, layer_input, layer_vars, slot):
  del sq_norm_fn
  return out, (layer_input, layer_vars, slot)


def _tap_bwd(sq_norm_fn, residuals, out_grad):
  layer_input, layer_vars, slot = residuals
  sq_norms = sq_norm_fn(layer_input, out_grad, layer_vars).astype(slot.dtype)
  # The input and variables reach the tap through stop_gradient: their cotangents are dropped.
  return (out_grad, jnp.zeros_like(layer_input), jax.tree.map(jnp.zeros_like, layer_vars),
          sq_norms)


_tap.defvjp(_tap_fwd, _tap_bwd)


def _per_dim(value, rank: int) -> tuple[int, ...]:
  if value is None:
    return (1,) * rank
  if isinstance(value, int):
    return (value,) * rank
  return tuple(value)


def _dense_sq_norm_fn(module: nn.Dense, norm_method: str) -> SqNormFn:
  if module.dot_general is not None or module.dot_general_cls is not None:
    raise UnsupportedModelError('Dense with a custom dot_general')

  def sq_norms(x, g, layer_vars):
    del layer_vars
    total = layer_norms.dense_sq_norms(x, g, norm_method)
    return total + layer_norms.bias_sq_norms(g) if module.use_bias else total

  return sq_norms


def _conv_geometry(module: nn.Conv, x: Array) -> tuple[Array, dict[str, Any]]:
  """The input as the kernel sees it (after Flax's own padding modes) and its static geometry."""
  kernel_size = _per_dim(module.kernel_size, 1)
  rank = len(kernel_size)
  problems = []
  if x.ndim != rank + 2:
    problems.append(f'inputs with {x.ndim - rank - 1} batch dimensions (need exactly 1)')
  if module.feature_group_count != 1:
    problems.append(f'feature_group_count={module.feature_group_count}')
  if any(d != 1 for d in _per_dim(module.input_dilation, rank)):
    problems.append(f'input_dilation={module.input_dilation}')
  if module.mask is not None:
    problems.append('a kernel mask')
  if module.conv_general_dilated is not None or module.conv_general_dilated_cls is not None:
    problems.append('a custom conv_general_dilated')
  if problems:
    raise UnsupportedModelError('Conv with ' + ', '.join(problems))
  strides = _per_dim(module.strides, rank)
  dilation = _per_dim(module.kernel_dilation, rank)
  dilated_kernel = [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation)]
  padding = linen_linear.canonicalize_padding(module.padding, rank)
  # Mirror flax.linen.Conv: these modes pad the input explicitly, then convolve with VALID.
  if padding in ('CIRCULAR', 'REFLECT'):
    pads = [((k - 1) // 2, k // 2) for k in dilated_kernel]
    x = jnp.pad(x, [(0, 0), *pads, (0, 0)], mode={'CIRCULAR': 'wrap', 'REFLECT': 'reflect'}[padding])
    padding = 'VALID'
  elif padding == 'CAUSAL':
    x = jnp.pad(x, [(0, 0), (dilated_kernel[0] - 1, 0), (0, 0)])
    padding = 'VALID'
  if isinstance(padding, str):
    padding = jax.lax.padtype_to_pads(x.shape[1:-1], dilated_kernel, strides, padding)
  padding = [tuple(p) for p in padding]
  if any(lo < 0 or hi < 0 for lo, hi in padding):
    raise UnsupportedModelError(f'Conv with negative padding {padding}')
  return x, dict(kernel_size=kernel_size, strides=strides, padding=padding,
                 kernel_dilation=dilation)


def _conv_sq_norm_fn(module: nn.Conv, geometry: dict[str, Any], form: str) -> SqNormFn:
  method, unroll_offsets = norm_tuning.parse_form(form)

  def sq_norms(x, g, layer_vars):
    del layer_vars
    total = layer_norms.conv_sq_norms(x, g, method=method, unroll_offsets=unroll_offsets,
                                      **geometry)
    return total + layer_norms.bias_sq_norms(g) if module.use_bias else total

  return sq_norms


def _own_apply_sq_norm_fn(module: nn.Module, args: tuple, kwargs: dict) -> SqNormFn:
  """Per-example gradients of a layer's own ``apply`` (a normalisation layer, or one that asks
  for it), vmapped over examples."""
  if isinstance(module, nn.BatchNorm):
    if not merge_param('use_running_average', module.use_running_average,
                       kwargs.get('use_running_average', args[1] if len(args) > 1 else None)):
      raise ValueError(
          f'BatchNorm {"/".join(module.path)} runs in training mode: examples interact through '
          'batch statistics, so per-example gradients are not defined. Apply the model in '
          'evaluation mode (e.g. apply_kwargs={"train": False}), as the paper does.')
  unbound = module.clone(parent=None)
  extra_args = args[1:]

  def sq_norms(x, g, layer_vars):

    def one_example(x_i, g_i):
      def layer(params):
        return unbound.apply({**layer_vars, 'params': params}, x_i[None], *extra_args, **kwargs)

      _, vjp = jax.vjp(layer, layer_vars['params'])
      (grad,) = vjp(g_i[None])
      return optax.tree_utils.tree_norm(grad, squared=True)

    return jax.vmap(one_example)(x, g)

  return sq_norms


def _per_example_apply(module: nn.Module) -> bool:
  """Whether the layer asks for its own ``apply`` to be differentiated per example."""
  return bool(getattr(type(module), 'grand_per_example_apply', False))


def _leaf_paths(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
  paths = set()
  for key, value in tree.items():
    if isinstance(value, Mapping):
      paths |= _leaf_paths(value, prefix + (key,))
    else:
      paths.add(prefix + (key,))
  return paths


class _Probe:
  """Taps supported layers during one forward pass and records what it could not cover."""

  def __init__(self, slot: Array, norm_method):
    self.slot = slot
    self.norm_method = norm_method
    self.covered: set[tuple[str, ...]] = set()
    self.problems: list[str] = []
    self.calls: collections.Counter = collections.Counter()
    self.strategies: dict[str, str] = {}

  def intercept(self, next_fun, args, kwargs, context):
    module = context.module
    if type(module) not in SUPPORTED_LAYERS and not _per_example_apply(module):
      return next_fun(*args, **kwargs)
    name = '/'.join(module.path) or '<root>'
    if context.method_name != '__call__':
      self.problems.append(f'{name} ({type(module).__name__}) used through '
                           f'.{context.method_name}()')
      return next_fun(*args, **kwargs)
    self.calls[module.path] += 1
    if self.calls[module.path] > 1:
      self.problems.append(f'{name} ({type(module).__name__}) is applied more than once '
                           '(shared parameters)')
    x = args[0]
    if isinstance(module, (nn.Dense, nn.Conv)) and module.dtype is not None:
      x = x.astype(module.dtype)  # As the layer computes (Flax casts its input to its dtype).
    try:
      if isinstance(module, nn.Dense):
        make_sq_norm_fn = functools.partial(_dense_sq_norm_fn, module)
        kernel_inputs, geometry, forms = x.shape[-1], {}, norm_tuning.DENSE_FORMS
      elif isinstance(module, nn.Conv):
        x, geometry = _conv_geometry(module, x)
        make_sq_norm_fn = functools.partial(_conv_sq_norm_fn, module, geometry)
        kernel_inputs = math.prod(geometry['kernel_size']) * x.shape[-1]
        forms = norm_tuning.CONV_FORMS
      else:  # Checked before running the layer: BatchNorm in training mode would fail inside.
        sq_norm_fn = _own_apply_sq_norm_fn(module, args, kwargs)
    except UnsupportedModelError as e:
      self.problems.append(f'{name}: {e}')
      return next_fun(*args, **kwargs)
    out = next_fun(*args, **kwargs)
    layer_vars = dict(module.variables)
    params = layer_vars.get('params', {})
    if not params:
      return out
    if isinstance(module, (nn.Dense, nn.Conv)):
      form = norm_tuning.choose(
          self.norm_method, lambda f: functools.partial(make_sq_norm_fn(f), layer_vars=None),
          jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct(out.shape, out.dtype),
          kernel_inputs, key=(type(module).__name__, module.use_bias, repr(geometry)),
          forms=forms)
      self.strategies[name] = form
      sq_norm_fn = make_sq_norm_fn(form)
    if x.shape[0] != self.slot.shape[0] or out.shape[0] != self.slot.shape[0]:
      self.problems.append(f'{name}: leading axis {x.shape[0]} is not the batch axis '
                           f'({self.slot.shape[0]})')
      return out
    self.covered |= {module.path + p for p in _leaf_paths(params)}
    return _tap(sq_norm_fn, out, jax.lax.stop_gradient(x), jax.lax.stop_gradient(layer_vars),
                self.slot)

  def check(self, params: Mapping[str, Any]) -> None:
    uncovered = sorted('/'.join(p) for p in _leaf_paths(params) - self.covered)
    problems = list(self.problems)
    if uncovered:
      problems.append('parameters owned by layers the fast path does not support: '
                      + ', '.join(uncovered))
    if problems:
      raise UnsupportedModelError(
          'GraNd fast path cannot handle this model: ' + '; '.join(problems) + '. Supported '
          'layers: ' + ', '.join(t.__name__ for t in SUPPORTED_LAYERS) + ' and parameter-free '
          'operations. Use grand(..., method="generic") (or "auto", which falls back).')


def grand_linen(model: nn.Module, variables: Mapping[str, Any], inputs: Array, labels: Array,
                mask: Array | None = None, *, loss_fn: LogitLossFn = softmax_cross_entropy,
                apply_kwargs: Mapping[str, Any] | None = None,
                norm_method: norm_tuning.TuningMethod = 'auto',
                return_strategies: bool = False):
  """Exact per-example GraNd ``‖∇_params loss(model(x_i), y_i)‖₂`` for a Flax linen model.

  Cost: one forward and one backward pass that computes only activation gradients, plus a
  reduction per layer; memory as a training step. Parameters are all leaves of
  ``variables['params']``; other collections (e.g. ``batch_stats``) are held fixed.

  Example::

    model = datadiet.models.get_model('resnet18', num_classes=10)
    variables = model.init(key, images[:1], train=False)
    norms = grand_linen(model, variables, images, labels, mask,
                        apply_kwargs={'train': False})   # (batch,) float32

  Args:
    model: a linen module whose ``apply(variables, inputs, **apply_kwargs)`` returns logits.
    variables: its variables, with a ``params`` collection.
    inputs: a batch of inputs, leading axis = examples.
    labels: integer labels, shape ``(batch,)``.
    mask: boolean ``(batch,)``; False marks padding, which gets norm 0 and no influence.
    loss_fn: per-example loss ``(logits, labels) -> (batch,)``; softmax cross-entropy default.
    apply_kwargs: keyword arguments for ``model.apply`` (evaluation mode, e.g. train=False).
    norm_method: for Dense/Conv layers, 'auto' (per layer: measured on GPU/TPU, by FLOPs on
      CPU), 'measure', 'flops', or one form for all: 'ghost' or 'materialize'.
    return_strategies: also return ``{layer name: form}`` (``'ghost'``, ``'materialize'``,
      or either with ``'/unrolled'`` for a convolution whose offset loop is unrolled).

  Raises:
    UnsupportedModelError: the model has a layer this path cannot handle exactly.
  """
  apply_kwargs = dict(apply_kwargs or {})
  batch = jax.tree.leaves(inputs)[0].shape[0]
  checks.check_batch(batch, labels, mask, what='grand_linen', class_labels=False)
  labels = checks.zero_padding_labels(labels, mask)
  mask = jnp.ones((batch,), bool) if mask is None else mask.astype(bool)
  probes = []

  def summed_loss(slot):
    probe = _Probe(slot, norm_method)
    probes.append(probe)
    with nn.intercept_methods(probe.intercept):
      logits = model.apply(variables, inputs, **apply_kwargs)
    losses = loss_fn(logits, labels)
    return jnp.sum(jnp.where(mask, losses, 0.0))

  dtype = jnp.result_type(jnp.float32, *jax.tree.leaves(variables['params']))
  sq_norms = jax.grad(summed_loss)(jnp.zeros((batch,), dtype))
  probes[-1].check(variables['params'])
  norms = jnp.where(mask, jnp.sqrt(jnp.maximum(sq_norms, 0.0)), 0.0)
  return (norms, probes[-1].strategies) if return_strategies else norms
