"""The evaluation protocol: every default of the suite in one place, shared by the CLI, the pipeline,
the reports and the validation probe that chooses checkpoints during training."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .cluster_spaces import CLUSTER_SPACES
from .clustering import DEFAULT_RESTARTS
from .knn import DEFAULT_K
from .knn_index import DEFAULT_INDEX, parse_index
from .linear_probe import DEFAULT_BUDGETS, DEFAULT_C_GRID, DEFAULT_SEEDS, check_budget
from .linear_probe import DEFAULT_MAX_ITER as PROBE_MAX_ITER
from .logreg import DEFAULT_BACKEND, check_backend
from .validation import EvalInputError

# sane limits of the protocol's counts (inclusive), which the CLI's flags also show: beyond them a value
# is a typo, not a protocol (10^14 seeds would be built as a tuple before anything ran)
LIMITS = {"seeds": (1, 1000), "restarts": (1, 1000), "k": (1, 100_000), "max_iter": (1, 10**6)}


@dataclass(frozen=True)
class EvalProtocol:
    # each default is the owning module's own (one source of truth for the functions and the protocol)
    budgets: tuple[int | float, ...] = DEFAULT_BUDGETS  # linear-probe label budgets: ints per class, floats a share
    seeds: tuple[int, ...] = DEFAULT_SEEDS  # label draws per budget (the first also seeds k-means)
    restarts: int = DEFAULT_RESTARTS  # k-means restarts, the lowest inertia kept
    k: int = DEFAULT_K  # neighbours of the weighted k-NN vote (DINO's)
    c_grid: tuple[float, ...] = DEFAULT_C_GRID  # the probe's C values, chosen on held-out labels
    max_iter: int = PROBE_MAX_ITER  # the probe solver's iterations
    index: str = DEFAULT_INDEX  # eval.knn_index
    probe_backend: str = DEFAULT_BACKEND  # eval.logreg
    # k-means also in these spaces (eval.cluster_spaces), beside the plain features: L2-normalised, and
    # PCA-whitened + L2 (DeepCluster's)
    kmeans_spaces: tuple[str, ...] = ("l2", "pcaw")
    # N2D (eval.n2d: UMAP, then a Gaussian mixture) beside k-means, once per seed and timed; off by default:
    # UMAP costs seconds on digits and minutes on 10,000 test images, and needs the "cluster" extra
    n2d: bool = False

    def __post_init__(self) -> None:
        parse_index(self.index)
        check_backend(self.probe_backend)
        unknown = [s for s in self.kmeans_spaces if s not in CLUSTER_SPACES]
        if unknown:
            raise EvalInputError(f"unknown k-means space(s) {', '.join(map(str, unknown))}; choose from: "
                                 f"{', '.join(CLUSTER_SPACES)}")
        for budget in self.budgets:
            check_budget(budget)
        counts = {"seeds": len(self.seeds), "restarts": self.restarts, "k": self.k, "max_iter": self.max_iter}
        for name, count in counts.items():
            low, high = LIMITS[name]
            if not low <= count <= high:
                raise EvalInputError(f"the protocol's {name} must lie in [{low}, {high}], got {count}")

    def quick(self) -> EvalProtocol:
        """The cheap variant monitoring uses during training: two C values, 300 iterations, one seed of
        3 k-means restarts on the plain features only, no label budgets, no N2D."""
        return replace(self, budgets=(), seeds=self.seeds[:1], c_grid=(0.1, 1.0), max_iter=300,
                       restarts=min(self.restarts, 3), kmeans_spaces=(), n2d=False)


DEFAULT_PROTOCOL = EvalProtocol()
