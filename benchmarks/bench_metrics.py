"""Metrics benchmark: kbetavae.metrics against disentanglement_lib, and one full evaluation.

Targets (metrics issue):

- ``metrics``: MIG + Modularity on 10,000 x 10 codes plus Z-diff with its 15,000 points
  (64-image pairs), encoder time excluded, together <= 5 s and >= 3x faster than
  disentanglement_lib's functions on the same inputs, measured in the same run. Both read
  codes from one precomputed (737280, 10) table (a fixed random linear map of the factors
  plus noise), so only metric work is timed. Ours is the path ``evaluate`` takes: one MI
  matrix for MIG and Modularity, Z-diff through a ``CodeTable``. The reference is
  ``mig._compute_mig`` + discretise / ``discrete_mutual_info`` / ``modularity`` (what its
  ``compute_modularity_explicitness`` does before the explicitness part) +
  ``compute_beta_vae_sklearn``. Medians of ``REPEATS`` runs.
- ``full_evaluation``: ``kbetavae evaluate``'s path on an untrained default ``BetaVAE``
  (loaded from ``.keras`` the way the command does) on the replica, default metrics, full
  protocol, encoder and rendering included: <= 180 s on the 2-core CPU. Set
  ``KBETAVAE_BENCH_FULL_EVAL=0`` to skip it, ``KBETAVAE_BENCH_CODE_TABLES=lazy,grid`` to
  also time encoding the whole grid first.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

import numpy as np

from kbetavae.metrics.protocol import FULL_PROTOCOL

REPEATS = 3
NUM_POINTS = FULL_PROTOCOL.num_points
# The reference's arguments for our full protocol.
ZDIFF = {
    "batch_size": FULL_PROTOCOL.pair_batch_size,
    "num_train": FULL_PROTOCOL.num_train,
    "num_eval": FULL_PROTOCOL.num_eval,
}


def _grid():
    from kbetavae.data import factors as grid

    factors = grid.factors_of(np.arange(grid.NUM_IMAGES))
    mixing = np.random.default_rng(1).standard_normal((5, 10))
    codes = (factors / np.array(grid.FACTOR_SIZES)) @ mixing
    codes[:, :5] += factors / np.array(grid.FACTOR_SIZES)  # partly axis-aligned
    codes += 0.05 * np.random.default_rng(2).standard_normal(codes.shape)
    return codes.astype(np.float32)


class _IndexGround:
    """The dSprites grid whose "images" are image indices (so codes are a table lookup)."""

    def __init__(self) -> None:
        from kbetavae.data import factors as grid

        self.grid = grid
        self.factor_sizes = grid.FACTOR_SIZES
        self.factor_names = grid.FACTOR_NAMES
        self.num_images = grid.NUM_IMAGES
        self.num_factors = len(grid.FACTOR_SIZES)

    def index(self, factors):
        return self.grid.index_of(factors)

    def images_at(self, index):
        return np.asarray(index)

    def sample_factors(self, n, rng):  # numpy Generator (ours) or RandomState (reference)
        draw = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
        return np.stack([draw(0, size, n) for size in self.factor_sizes], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return self.index(factors)

    def sample(self, n, random_state):
        factors = self.sample_factors(n, random_state)
        return factors, self.index(factors)


def _ours(table_codes, ground, codes, factors) -> dict:
    from kbetavae.metrics import (
        CodeTable,
        code_factor_mutual_info,
        factor_entropies,
        mig_from_mutual_info,
        modularity_from_mutual_info,
        zdiff,
    )

    start = time.perf_counter()
    mi = code_factor_mutual_info(codes, factors)
    mig = mig_from_mutual_info(mi, factor_entropies(factors)).score
    modularity = modularity_from_mutual_info(mi).score
    mid = time.perf_counter()
    table = CodeTable.from_codes(ground, table_codes)
    z = zdiff(ground, table, 0, FULL_PROTOCOL).score
    end = time.perf_counter()
    return {
        "mig": mig,
        "modularity": modularity,
        "zdiff": z,
        "mi_s": mid - start,
        "zdiff_s": end - mid,
        "total_s": end - start,
    }


def _reference_modules():
    try:
        import gin
    except ImportError:
        return None
    sys.modules.setdefault("gin.tf", gin)
    import logging

    logging.getLogger().setLevel(logging.ERROR)
    try:
        from disentanglement_lib.evaluation.metrics import (
            beta_vae,
            mig,
            modularity_explicitness,
            utils,
        )
    except ImportError:
        return None
    gin.parse_config(
        ["discretizer.discretizer_fn = @histogram_discretizer", "discretizer.num_bins = 20"]
    )
    return beta_vae, mig, modularity_explicitness, utils


def _reference(modules, table_codes, ground, codes, factors) -> dict:
    beta_vae, mig, modularity_explicitness, utils = modules
    start = time.perf_counter()
    mig_score = mig._compute_mig(codes.T, factors.T)["discrete_mig"]
    mi = utils.discrete_mutual_info(utils.make_discretizer(codes.T), factors.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        modularity = modularity_explicitness.modularity(mi)
    mid = time.perf_counter()
    z = beta_vae.compute_beta_vae_sklearn(
        ground, lambda index: table_codes[index], np.random.RandomState(0), **ZDIFF
    )["eval_accuracy"]
    end = time.perf_counter()
    return {
        "mig": float(mig_score),
        "modularity": float(modularity),
        "zdiff": float(z),
        "mi_s": mid - start,
        "zdiff_s": end - mid,
        "total_s": end - start,
    }


def _median(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def bench_metric_work() -> dict:
    table_codes = _grid()
    ground = _IndexGround()
    factors = ground.grid.factors_of(
        np.random.default_rng(0).integers(0, ground.num_images, NUM_POINTS)
    )
    codes = table_codes[ground.index(factors)].astype(np.float64)
    ours = _median([_ours(table_codes, ground, codes, factors) for _ in range(REPEATS)])
    result = {"ours": ours, "target_total_s": 5.0}
    modules = _reference_modules()
    if modules is None:
        result["reference"] = "disentanglement_lib not installed"
        return result
    reference = _median(
        [_reference(modules, table_codes, ground, codes, factors) for _ in range(REPEATS)]
    )
    result["reference"] = reference
    result["speedup"] = reference["total_s"] / ours["total_s"]
    result["target_speedup"] = 3.0
    result["mig_abs_diff"] = abs(reference["mig"] - ours["mig"])
    result["modularity_abs_diff"] = abs(reference["modularity"] - ours["modularity"])
    result["zdiff_abs_diff"] = abs(reference["zdiff"] - ours["zdiff"])
    return result


def _save_untrained_model(path: str) -> None:
    import keras

    from kbetavae import BetaVAE

    keras.utils.set_random_seed(0)
    model = BetaVAE(seed=0)
    model(np.zeros((1, 64, 64, 1), np.float32))
    keras.saving.save_model(model, path)


def bench_full_evaluation(path: str, code_table: str) -> dict:
    from kbetavae.data import open_source
    from kbetavae.metrics import evaluate
    from kbetavae.trained.load import load_encoder_decoder

    start = time.perf_counter()
    encode, _ = load_encoder_decoder(path)
    report = evaluate(encode, open_source("replica"), seed=0, code_table=code_table)
    seconds = time.perf_counter() - start
    return {
        "code_table": code_table,
        "seconds": seconds,
        "target_s": 180.0,
        "encode_seconds": report["timing"]["encode_seconds"],
        "images_encoded": report["images_encoded"],
        "images_drawn": report["images_drawn"],
        "images_per_s": report["images_encoded"] / report["timing"]["encode_seconds"],
        "scores": {name: report[name]["score"] for name in report["metrics"]},
    }


def run() -> dict:
    result = {"metrics": bench_metric_work()}
    print(f"metric work: {result['metrics']}", flush=True)
    if os.environ.get("KBETAVAE_BENCH_FULL_EVAL", "1") != "0":
        modes = os.environ.get("KBETAVAE_BENCH_CODE_TABLES", "lazy").split(",")
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "model.keras")
            _save_untrained_model(path)
            result["full_evaluation"] = [bench_full_evaluation(path, m.strip()) for m in modes]
    return result


if __name__ == "__main__":
    print(run())
