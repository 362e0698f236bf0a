"""Keep ``torch._dynamo`` out of a process that never compiles.

``torch.optim`` guards itself against ``torch.compile``: ``Optimizer.add_param_group``, ``zero_grad``,
``state_dict``, ``load_state_dict`` and the functional update rules are wrapped in
``torch._disable_dynamo``, and every ``step()`` in ``_use_grad_for_differentiable``, whose first call
imports ``torch._dynamo`` (sympy, the FX shape machinery, DTensor's sharding rules). That import took
1.0-1.5 s here — a third of the time a small recipe takes from the command line to its first step,
and as much as ``import torch`` itself (PyTorch removed the same import from ``import torch``,
pytorch/pytorch#162595; the optimizer still pays it).

In a process where ``torch._dynamo`` has never been imported nothing can be tracing, so
``torch._dynamo.disable(fn)`` behaves as ``fn`` and ``torch._dynamo.graph_break()`` does nothing.
:func:`defer_dynamo_import` makes those wrappers call straight through while that holds, and hand over
to PyTorch's own wrappers the moment anything imports ``torch._dynamo`` (``--set compile=true``, a
user's own ``torch.compile``): behaviour, results and hooks are unchanged either way.

Only wrappers of the exact shape this PyTorch release uses are touched; any other shape is left alone
(the optimizer then just imports ``torch._dynamo`` as before), so a PyTorch upgrade can cost the
start-up time back but never correctness. ``tests/test_eager_optim.py`` checks both.
"""
from __future__ import annotations

import functools
import sys
import types
from typing import Any, Callable

import torch
import torch._compile
import torch.optim
import torch.optim.optimizer as _optimizer_module

_DYNAMO = "torch._dynamo"
_MARK = "_genzoo_eager_first"

# The code objects of PyTorch's two wrappers, taken from the functions that make them.
_DISABLE_INNER = torch._compile._disable_dynamo(lambda: None).__code__
_USE_GRAD_INNER = _optimizer_module._use_grad_for_differentiable(lambda self: None).__code__


def dynamo_loaded() -> bool:
    """True once anything in this process has imported ``torch._dynamo``."""
    return _DYNAMO in sys.modules


def _closure(fn: types.FunctionType) -> dict[str, Any]:
    cells = fn.__closure__ or ()
    return {name: cell.cell_contents for name, cell in zip(fn.__code__.co_freevars, cells)}


def _seed_disable_wrapper(inner: types.FunctionType) -> bool:
    """Give one ``torch._disable_dynamo`` wrapper a call-through that defers to dynamo once it is loaded.

    The wrapper caches ``torch._dynamo.disable(fn)`` on ``fn.__dynamo_disable`` at its first call; seeding
    that cache with :func:`eager_first` means the import happens only when dynamo is already there.
    """
    free = _closure(inner)
    fn, recursive = free.get("fn"), free.get("recursive", True)
    if not callable(fn) or getattr(fn, "__dynamo_disable", None) is not None:
        return False

    @functools.wraps(fn)
    def eager_first(*args: Any, **kwargs: Any) -> Any:
        if not dynamo_loaded():
            return fn(*args, **kwargs)
        import torch._dynamo

        disabled = torch._dynamo.disable(fn, recursive, wrapping=False)
        fn.__dynamo_disable = disabled   # PyTorch's own cache from here on
        return disabled(*args, **kwargs)

    setattr(eager_first, _MARK, True)
    fn.__dynamo_disable = eager_first
    return True


def _eager_step(use_grad: types.FunctionType) -> Callable[..., Any] | None:
    """A ``step`` that does what ``_use_grad_for_differentiable`` does, minus the dynamo graph breaks.

    PyTorch's wrapper sets grad mode to ``defaults["differentiable"]`` around the update and calls
    ``torch._dynamo.graph_break()`` on both sides; without dynamo the breaks are no-ops. Once dynamo is
    loaded the original wrapper runs.
    """
    raw = _closure(use_grad).get("func")
    if not callable(raw):
        return None

    @functools.wraps(raw)
    def step(*args: Any, **kwargs: Any) -> Any:
        if dynamo_loaded():
            return use_grad(*args, **kwargs)
        prev_grad = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(args[0].defaults["differentiable"])
            return raw(*args, **kwargs)
        finally:
            torch.set_grad_enabled(prev_grad)

    setattr(step, _MARK, True)
    return step


def _functions_in(obj: Any, depth: int = 0) -> list[types.FunctionType]:
    """Functions reachable from a module attribute: itself, a class's methods, and closure cells."""
    if depth > 3:
        return []
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, type):
        return [f for v in vars(obj).values() for f in _functions_in(v, depth + 1)]
    if not isinstance(obj, types.FunctionType):
        return []
    found = [obj]
    for cell in obj.__closure__ or ():
        try:
            found += _functions_in(cell.cell_contents, depth + 1)
        except ValueError:   # an empty cell
            pass
    return found


def _patch_steps(cls: type) -> bool:
    """Replace the ``_use_grad_for_differentiable`` layer under ``cls.step`` (hooked or not)."""
    step = vars(cls).get("step")
    if not isinstance(step, types.FunctionType) or getattr(step, _MARK, False):
        return False
    if step.__code__ is _USE_GRAD_INNER:
        eager = _eager_step(step)
        if eager is None:
            return False
        cls.step = eager
        return True
    # Optimizer._patch_step_function already wrapped it: profile_hook_step(_use_grad(step)).
    cells = dict(zip(step.__code__.co_freevars, step.__closure__ or ()))
    inner = cells.get("func")
    if inner is None or not isinstance(inner.cell_contents, types.FunctionType):
        return False
    if inner.cell_contents.__code__ is not _USE_GRAD_INNER:
        return False
    eager = _eager_step(inner.cell_contents)
    if eager is None:
        return False
    inner.cell_contents = eager
    return True


@functools.lru_cache(maxsize=1)
def defer_dynamo_import() -> int:
    """Let ``torch.optim`` run without importing ``torch._dynamo`` until something else imports it.

    Call before the first optimizer is built (idempotent). Returns how many wrappers were patched (0 when
    ``torch._dynamo`` is already loaded or this PyTorch release's wrappers have another shape).
    """
    if dynamo_loaded():
        return 0
    patched = 0
    modules = [m for name, m in list(sys.modules.items())
               if m is not None and (name == "torch.optim" or name.startswith("torch.optim."))]
    seen: set[int] = set()
    for module in modules:
        for value in list(vars(module).values()):
            if isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
                patched += _patch_steps(value)
            for fn in _functions_in(value):
                if id(fn) in seen:
                    continue
                seen.add(id(fn))
                if fn.__code__ is _DISABLE_INNER:
                    patched += _seed_disable_wrapper(fn)
    return patched
