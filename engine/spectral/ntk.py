"""The empirical neural tangent kernel of a model on a probe batch (torch.func: functional_call +
jacrev, vmapped over independent samples), recorded while the model trains: its eigenvalue spectrum,
its distance from the kernel at initialisation, its effective rank, and a verdict on convergence."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

SETTLED = 0.02  # relative change between the last two records below which the kernel has settled
LAZY = 0.1  # distance from the initial kernel below which training stayed in the kernel (lazy) regime


def empirical_ntk(model: Any, inputs: tuple[Any, ...], probe: Any | None = None, per_sample: bool = False) -> np.ndarray:
    """K[i, j] = sum over outputs o of <dy_io/dtheta, dy_jo/dtheta>, over every trainable parameter.
    per_sample: inputs[0] is a batch of independent samples (vmap over them); otherwise the model
    sees all inputs at once (a graph) and `probe` picks the output rows."""
    import torch
    from torch.func import functional_call, jacrev, vmap
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    was_training = model.training
    model.eval()
    try:
        if per_sample:
            def one(p: dict[str, Any], x: Any) -> Any:
                return functional_call(model, p, (x.unsqueeze(0), *inputs[1:])).reshape(-1)
            jac = vmap(jacrev(one), in_dims=(None, 0))(params, inputs[0])  # each (n, outputs, *param)
        else:
            def rows(p: dict[str, Any]) -> Any:
                return functional_call(model, p, inputs).reshape(len(inputs[0]), -1)[probe]
            jac = jacrev(rows)(params)  # each (probe, outputs, *param)
        J = torch.cat([j.reshape(j.shape[0], j.shape[1], -1) for j in jac.values()], dim=2)
        return torch.einsum("iop,jop->ij", J, J).double().numpy()
    finally:
        model.train(was_training)


def summary(K: np.ndarray, K0: np.ndarray, previous: np.ndarray | None) -> dict[str, Any]:
    """Eigenvalues (top 8), trace, effective rank (exp of the eigenvalue entropy), distance from the
    initial kernel (1 - cosine of the two matrices) and relative change since the last record."""
    eig = np.clip(np.linalg.eigvalsh(K)[::-1], 0, None)
    p = eig / eig.sum() if eig.sum() > 0 else np.full_like(eig, 1 / len(eig))
    entropy = -float(np.sum(p[p > 0] * np.log(p[p > 0])))

    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))
    return {"eigenvalues": [float(f"{v:.4g}") for v in eig[:8]], "trace": float(f"{eig.sum():.4g}"),
            "effective_rank": round(float(np.exp(entropy)), 3),
            "distance_from_init": round(abs(1 - cosine(K, K0)), 5),
            "change": None if previous is None else round(float(np.linalg.norm(K - previous) / (np.linalg.norm(previous) + 1e-30)), 5)}


class Tracker:
    """Records the NTK every `every` epochs while a model trains."""

    def __init__(self, compute: Callable[[], np.ndarray], every: int) -> None:
        self.compute, self.every = compute, every
        self.records: list[dict[str, Any]] = []
        self._K0: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self.seconds: list[float] = []

    def record(self, epoch: int, loss: float, force: bool = False) -> None:
        """Compute and keep the kernel's summary at this epoch (if it is one of the recorded ones)."""
        since = epoch - self.records[-1]["epoch"] if self.records else self.every
        if (epoch % self.every if not force else since < self.every // 2):  # a closing record needs a gap
            return
        t0 = time.perf_counter()
        K = self.compute()
        self.seconds.append(time.perf_counter() - t0)
        if self._K0 is None:
            self._K0 = K
        self.records.append({"epoch": epoch, "loss": round(float(loss), 5), **summary(K, self._K0, self._last)})
        self._last = K

    def verdict(self) -> str:
        """Whether the kernel settled, and whether training stayed lazy or learned features."""
        if len(self.records) < 2:
            return "too few records"
        last = self.records[-1]
        settled = last["change"] is not None and last["change"] < SETTLED
        regime = ("lazy (kernel) regime: the NTK stayed close to its initial value" if last["distance_from_init"] < LAZY
                  else "feature learning: the NTK moved away from its initial value")
        return (f"{'converged' if settled else 'not converged'} (last change {last['change']:.3g},"
                f" settles below {SETTLED}); {regime} (distance {last['distance_from_init']:.3g})")
