"""Curvature of a real network's loss: Hessian-vector products and top eigenvalues.

The loss is ``L(w) = mean cross-entropy of FlatModel fm at the flat point w on (x, y)``
(evaluation mode; batch-norm networks use the given ``buffers``, e.g.
``fm.bn_buffers(w, x)``, or the module's stored ones).

:func:`hvp`
    H v without forming H: forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``)
    or double backward (reverse-over-reverse), both exact to rounding.
:class:`HessianOperator`
    The full-data Hessian as a :class:`scipy.sparse.linalg.LinearOperator` (float64),
    summing HVPs over data chunks.
:func:`top_eigenvalue_power`, :func:`top_eigenvalues_lanczos`
    The top eigenvalue by power iteration (the eigenvalue of largest magnitude, with its
    sign) and the k largest (algebraic) by Lanczos (``scipy.sparse.linalg.eigsh``).
:func:`exact_hessian`
    The dense P x P Hessian (``torch.autograd.functional.hessian``), for small nets and
    tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from .._checks import as_generator, choice, int_at_least, real_in
from ._device import check_seed
from .flat import FlatModel

__all__ = [
    "HVP_METHODS", "loss_function", "gradient", "hvp", "exact_hessian", "HessianOperator",
    "EigenResult", "top_eigenvalue_power", "top_eigenvalues_lanczos",
]

#: Ways of computing a Hessian-vector product.
HVP_METHODS = ("jvp", "double_backward")

Buffers = dict[str, torch.Tensor] | None


def loss_function(fm: FlatModel, x: torch.Tensor, y: torch.Tensor,
                  buffers: Buffers = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``w -> L(w)`` on (x, y) in evaluation mode, a pure function of the flat vector."""
    x = x.to(fm.device)
    y = y.to(fm.device)
    return lambda w: fm.loss(w, x, y, buffers)


def gradient(fm: FlatModel, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             buffers: Buffers = None) -> torch.Tensor:
    """Gradient of L at ``flat``, shape (P,)."""
    flat = fm.check_flat(flat)
    return torch.func.grad(loss_function(fm, x, y, buffers))(flat).detach()


def hvp(fm: FlatModel, flat: torch.Tensor, v: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
        buffers: Buffers = None, method: str = "jvp") -> torch.Tensor:
    """Hessian-vector product H(flat) v of the loss on (x, y).

    Parameters
    ----------
    fm : FlatModel
    flat : Tensor, shape (P,)
        Point at which the Hessian is taken.
    v : Tensor, shape (P,)
    x, y : Tensor, shapes (N, ...) and (N,)
    buffers : dict, optional
        BN statistics (see the module docstring).
    method : {"jvp", "double_backward"}
        Forward-over-reverse or reverse-over-reverse differentiation.

    Returns
    -------
    Tensor, shape (P,)
    """
    method = choice("method", method, HVP_METHODS)
    flat = fm.check_flat(flat)
    v = fm.check_flat(v, "v")
    f = loss_function(fm, x, y, buffers)
    if method == "jvp":
        return torch.func.jvp(torch.func.grad(f), (flat,), (v,))[1].detach()
    w = flat.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(w), w, create_graph=True)
    (hv,) = torch.autograd.grad(g @ v, w)
    return hv.detach()


def exact_hessian(fm: FlatModel, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  buffers: Buffers = None) -> torch.Tensor:
    """The dense Hessian of L at ``flat``, shape (P, P) (memory P^2: small nets only)."""
    flat = fm.check_flat(flat)
    return torch.autograd.functional.hessian(loss_function(fm, x, y, buffers), flat).detach()


class HessianOperator(LinearOperator):
    """The Hessian of the loss on all of (x, y) as a float64 scipy LinearOperator.

    ``op @ v`` computes ``sum_k (N_k / N) H_k v`` over data chunks of at most
    ``batch_size`` samples (H_k the Hessian of the chunk's mean loss), which equals the
    full-data Hessian-vector product.

    Parameters
    ----------
    fm : FlatModel
    flat : Tensor, shape (P,)
    x, y : Tensor, shapes (N, ...) and (N,)
    buffers : dict, optional
    batch_size : int, optional
        Samples per chunk (all at once by default).
    method : {"jvp", "double_backward"}

    Attributes
    ----------
    n_products : int
        Number of Hessian-vector products computed so far.
    """

    def __init__(self, fm: FlatModel, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                 buffers: Buffers = None, batch_size: int | None = None,
                 method: str = "jvp") -> None:
        self.fm = fm
        self.flat = fm.check_flat(flat).detach()
        n = int(x.shape[0])
        if n == 0 or y.shape != (n,):
            raise ValueError(f"x and y must hold the same N >= 1 samples, got {tuple(x.shape)} "
                             f"and {tuple(y.shape)}")
        size = n if batch_size is None else int_at_least("batch_size", batch_size, 1)
        self._chunks = [(x[s:s + size], y[s:s + size]) for s in range(0, n, size)]
        self._n = n
        self.buffers = buffers
        self.method = choice("method", method, HVP_METHODS)
        self.n_products = 0
        super().__init__(dtype=np.float64, shape=(fm.n_params, fm.n_params))

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        """H v as a tensor (P,) of the model's dtype."""
        v = self.fm.check_flat(v, "v")
        out = torch.zeros_like(self.flat)
        for xb, yb in self._chunks:
            out += (xb.shape[0] / self._n) * hvp(self.fm, self.flat, v, xb, yb, self.buffers,
                                                  self.method)
        self.n_products += 1
        return out

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        vt = torch.as_tensor(np.ascontiguousarray(v).reshape(-1))
        return self.hvp(vt).double().cpu().numpy()

    def _rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self._matvec(v)  # symmetric


class EigenResult(NamedTuple):
    """Top eigenvalue(s) of the Hessian."""

    values: np.ndarray  #: (k,) eigenvalues, largest first
    vectors: np.ndarray  #: (P, k) unit eigenvectors (float64)
    n_products: int  #: Hessian-vector products used
    converged: bool  #: whether the stopping rule was met


def top_eigenvalue_power(fm: FlatModel, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                         *, buffers: Buffers = None, iters: int = 200, tol: float = 1e-6,
                         seed: int = 0, batch_size: int | None = None,
                         method: str = "jvp") -> EigenResult:
    """Eigenvalue of largest magnitude by power iteration on Hessian-vector products.

    Starting from a Gaussian vector drawn from ``seed``, iterates v <- H v / |H v| and
    stops when the Rayleigh quotient changes by at most ``tol`` times its magnitude. At a
    minimum (H positive semi-definite) this is the top eigenvalue.

    Returns
    -------
    EigenResult
        ``values`` of shape (1,) (the Rayleigh quotient, with its sign) and the vector.
    """
    iters = int_at_least("iters", iters, 1)
    tol = real_in("tol", tol, 0.0, low_open=True)
    op = HessianOperator(fm, flat, x, y, buffers, batch_size, method)
    rng = as_generator(check_seed(seed))
    v = torch.as_tensor(rng.standard_normal(fm.n_params)).to(op.flat)
    v = v / v.norm()
    lam, converged = float("nan"), False
    for _ in range(iters):
        hv = op.hvp(v)
        new = float(v @ hv)
        norm = hv.norm()
        if norm == 0:
            lam, converged = 0.0, True
            break
        v = hv / norm
        if abs(new - lam) <= tol * abs(new):
            lam, converged = new, True
            break
        lam = new
    vec = v.double().cpu().numpy()[:, None]
    return EigenResult(np.array([lam]), vec, op.n_products, converged)


def top_eigenvalues_lanczos(fm: FlatModel, flat: torch.Tensor, x: torch.Tensor,
                            y: torch.Tensor, k: int = 1, *, buffers: Buffers = None,
                            tol: float = 1e-6, seed: int = 0, batch_size: int | None = None,
                            method: str = "jvp", maxiter: int | None = None) -> EigenResult:
    """The k largest (algebraic) Hessian eigenvalues by Lanczos (scipy ``eigsh``, "LA").

    Parameters
    ----------
    k : int
        In [1, P - 1].
    tol : float
        Relative accuracy passed to eigsh.
    seed : int
        Seeds the Lanczos start vector.
    maxiter : int, optional
        Passed to eigsh.

    Returns
    -------
    EigenResult
        ``values`` (k,) in decreasing order, ``vectors`` (P, k).
    """
    k = int_at_least("k", k, 1)
    if k >= fm.n_params:
        raise ValueError(f"k must be in [1, n_params - 1 = {fm.n_params - 1}], got {k}")
    tol = real_in("tol", tol, 0.0, low_open=True)
    op = HessianOperator(fm, flat, x, y, buffers, batch_size, method)
    v0 = as_generator(check_seed(seed)).standard_normal(fm.n_params)
    vals, vecs = eigsh(op, k=k, which="LA", v0=v0, tol=tol, maxiter=maxiter)
    order = np.argsort(vals)[::-1]
    return EigenResult(vals[order], vecs[:, order], op.n_products, True)
