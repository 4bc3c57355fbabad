"""UDR (Duan et al. 2020): equal to disentanglement_lib's computation, and known answers.

Known answers use *orthogonal* codes: balanced ±1 columns of a Sylvester–Hadamard matrix.
Two such columns have Pearson and Spearman correlation exactly 0 (with two levels the
average ranks are an affine map of the values), a column against itself or its negative
exactly ±1; a Lasso regression of a standardised column on standardised orthogonal ones
puts 1 − alpha on that column and exactly 0 elsewhere (coordinate descent solves it in one
sweep). So every similarity matrix below is exact and every score a fraction.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

from kbetavae.errors import InputError
from kbetavae.metrics.inputs import kl_per_latent
from kbetavae.metrics.udr import LASSO_ALPHA, relative_strength, udr

INFORMATIVE_KL = 1.0  # any KL above the 0.01-nat threshold
COLLAPSED_KL = 0.0


def hadamard_codes(num_latents: int, num_points: int = 1024) -> np.ndarray:
    """(num_points, num_latents) mutually orthogonal balanced ±1 columns."""
    h = np.ones((1, 1))
    while len(h) < num_points:
        h = np.block([[h, h], [h, -h]])
    return h[:, 1 : num_latents + 1]  # column 0 is constant


def permuted(codes: np.ndarray, seed: int) -> np.ndarray:
    """The same latents in another order, about half of them negated."""
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], codes.shape[1])
    return codes[:, rng.permutation(codes.shape[1])] * signs


def kls(*informative: np.ndarray) -> np.ndarray:
    """(M, z) KL per latent from each model's boolean informative mask."""
    return np.where(np.array(informative), INFORMATIVE_KL, COLLAPSED_KL)


# -- known answers -----------------------------------------------------------------------------


def test_models_equal_up_to_permutation_and_sign_score_one_with_spearman():
    codes = hadamard_codes(10)
    models = [codes, permuted(codes, 1), permuted(codes, 2)]
    result = udr(models, np.full((3, 10), INFORMATIVE_KL), similarity="spearman")
    np.testing.assert_allclose(result.model_scores, 1.0, atol=1e-12)
    off_diagonal = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(result.pairwise[off_diagonal], 1.0, atol=1e-12)
    assert np.isnan(np.diag(result.pairwise)).all()


@pytest.mark.parametrize("alpha", [LASSO_ALPHA, 0.3])
def test_lasso_scores_one_minus_alpha_for_models_equal_up_to_permutation_and_sign(alpha):
    # The Lasso weight of a perfect predictor is 1 - alpha, and max²/sum of a single entry c
    # is c: the reference's Lasso UDR tops out at 1 - alpha (0.9), not 1.
    codes = hadamard_codes(10)
    models = [codes, permuted(codes, 1), permuted(codes, 2)]
    result = udr(models, np.full((3, 10), INFORMATIVE_KL), similarity="lasso", lasso_alpha=alpha)
    np.testing.assert_allclose(result.model_scores, 1.0 - alpha, atol=1e-12)


def test_continuous_codes_equal_up_to_permutation_and_sign():
    # Lasso: 1 - alpha at the optimum whatever the sample correlations (each weaker
    # correlate c gets weight 0 because alpha * |c| <= alpha). Spearman: a row's strength is
    # 1 / (1 + sum of its |rho| with the unrelated latents), each |rho| half-normal with sd
    # 1/sqrt(N - 1), so the score is about 1 / (1 + (z - 1) sqrt(2 / (pi (N - 1)))) = 0.933;
    # it averages 2z such rows and columns, sd about 0.005, hence the 0.02 tolerance.
    num_points, num_latents = 10_000, 10
    codes = np.random.default_rng(0).standard_normal((num_points, num_latents))
    models = [codes, permuted(codes, 1)]
    kl = np.full((2, num_latents), INFORMATIVE_KL)
    lasso = udr(models, kl, similarity="lasso")
    np.testing.assert_allclose(lasso.model_scores, 1.0 - LASSO_ALPHA, atol=1e-6)
    spearman = udr(models, kl, similarity="spearman")
    expected = 1 / (1 + (num_latents - 1) * np.sqrt(2 / (np.pi * (num_points - 1))))
    np.testing.assert_allclose(spearman.model_scores, expected, atol=0.02)


def test_independent_models_score_about_zero():
    # max²/sum <= max, so a score is at most the largest |rho| between unrelated latents:
    # sd 1/sqrt(N - 1) = 0.01 at N = 10,000; 4.5 sd (0.045) bounds all 300 entries with
    # probability > 0.99. Lasso is exactly 0: w = 0 is the optimum once every |rho| <= alpha
    # (0.1, 10 sd here).
    num_points, num_latents = 10_000, 10
    rng = np.random.default_rng(1)
    models = rng.standard_normal((3, num_points, num_latents))
    kl = np.full((3, num_latents), INFORMATIVE_KL)
    spearman = udr(models, kl, similarity="spearman")
    assert np.all(spearman.model_scores > 0)
    assert np.all(spearman.model_scores < 4.5 / np.sqrt(num_points - 1))
    np.testing.assert_array_equal(udr(models, kl, similarity="lasso").model_scores, 0.0)


def collapsed_pair() -> tuple[list[np.ndarray], np.ndarray]:
    """Model 0: 10 informative latents. Model 1: 6 of them (permuted, signed) and 4
    collapsed latents (mu = small noise, KL 0)."""
    codes = hadamard_codes(10)
    other = permuted(codes[:, :6], 3)
    jitter = 1e-3 * np.random.default_rng(4).standard_normal((len(codes), 4))
    kl = kls(np.ones(10, bool), np.arange(10) < 6)
    return [codes, np.hstack([other, jitter])], kl


def test_collapsed_latents_are_left_out_of_the_score():
    # Crop to 10 rows x 6 columns: each column has one 1 (strength 1), 6 rows have one 1
    # and 4 rows none (strength 0), so the pair scores (1 + 6/10) / 2 = 0.8. The paper's
    # formula weights by the numbers of latents, (6 + 6) / (10 + 6) = 0.75; the reference
    # averages the two means, and so do we.
    models, kl = collapsed_pair()
    spearman = udr(models, kl, similarity="spearman")
    np.testing.assert_allclose(spearman.model_scores, 0.8, atol=1e-12)
    np.testing.assert_array_equal(spearman.informative[1], np.arange(10) < 6)
    # Lasso: the same pattern with 0.9 for 1: (0.9 + 0.9 * 6/10) / 2
    lasso = udr(models, kl, similarity="lasso")
    np.testing.assert_allclose(lasso.model_scores, 0.72, atol=1e-12)


def test_collapsed_latents_count_as_zeros_without_the_informative_rule():
    # informative_only=False keeps the 4 zeroed columns: both means are 6/10.
    models, kl = collapsed_pair()
    result = udr(models, kl, similarity="spearman", informative_only=False)
    np.testing.assert_allclose(result.model_scores, 0.6, atol=1e-12)


def test_a_collapsed_latents_noise_would_count_if_the_threshold_let_it_in():
    # With kl_threshold below the collapsed latents' KL their noise is standardised to unit
    # variance and kept: 4 columns of chance correlations, E|rho| = sqrt(2 / (pi N)) = 0.025.
    # Columns: 6 exact matches (1) and 4 noise columns (max²/sum of 10 such, ~0.01): ~0.6.
    # Rows: the 6 matched rows now share their 1 with 4 noise entries, 1 / (1 + 4 * 0.025)
    # = 0.91, the other 4 hold noise only: ~0.55. The pair, ~0.58, falls below the 0.6
    # that zeroed latents give: noise is worse than nothing, hence the threshold.
    models, kl = collapsed_pair()
    logvars = np.zeros((2, *models[0].shape))
    logvars[0], logvars[1][:, :6] = -6.0, -6.0
    strict = udr(models, logvars=logvars, similarity="spearman")
    loose = udr(models, logvars=logvars, similarity="spearman", kl_threshold=0.0)
    np.testing.assert_allclose(strict.model_scores, 0.8, atol=1e-12)
    assert loose.informative.all()
    assert np.all((0.55 < loose.model_scores) & (loose.model_scores < 0.6))


def test_a_fully_collapsed_model_scores_zero_and_leaves_the_others_alone():
    # The reference raises here (max of an empty matrix); a model without a representation
    # shares nothing with the others. Models 0 and 1 agree (1 each way), so each one's
    # median over its two partners is (1 + 0) / 2.
    codes = hadamard_codes(8)
    dead = 1e-3 * np.random.default_rng(5).standard_normal(codes.shape)
    kl = kls(np.ones(8, bool), np.ones(8, bool), np.zeros(8, bool))
    result = udr([codes, permuted(codes, 6), dead], kl, similarity="spearman")
    np.testing.assert_allclose(result.model_scores, [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_array_equal(result.pairwise[2, :2], 0.0)


@pytest.mark.parametrize(("similarity", "expected"), [("spearman", 0.9), ("lasso", 0.81)])
def test_a_constant_informative_latent_is_an_all_zero_row(similarity, expected):
    # A latent with constant mu but KL above the threshold (a shrunk posterior variance)
    # carries no ranking: one of 10 columns and its partner row are zero, (0.9 + 0.9) / 2
    # (times 0.9 for Lasso). The reference's Spearman makes it NaN and scores 0.45.
    codes = hadamard_codes(10)
    other = codes.copy()
    other[:, 3] = 0.5
    kl = np.full((2, 10), INFORMATIVE_KL)
    result = udr([codes, other], kl, similarity=similarity)
    np.testing.assert_allclose(result.model_scores, expected, atol=1e-12)


def test_relative_strength_of_small_matrices():
    keep = np.ones(3, bool)
    eye = np.eye(3)
    assert relative_strength(eye, keep, keep) == 1.0
    # rows: 1/2, 1/2, 1 and columns likewise: (2/3 + 2/3) / 2
    blocks = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert relative_strength(blocks, keep, keep) == pytest.approx(2 / 3)
    assert relative_strength(np.ones((3, 3)), keep, keep) == pytest.approx(1 / 3)
    assert relative_strength(np.zeros((3, 3)), keep, keep) == 0.0
    # dropping row 2 and column 2 leaves the 2 x 2 block of ones: 1/2
    assert relative_strength(blocks, keep & [1, 1, 0], keep & [1, 1, 0]) == pytest.approx(0.5)


def test_logvars_give_the_kl_the_reference_computes():
    rng = np.random.default_rng(7)
    mu, logvar = rng.standard_normal((2, 2, 500, 4))
    from_logvars = udr(mu, logvars=logvar, similarity="spearman")
    given = udr(mu, [kl_per_latent(m, v) for m, v in zip(mu, logvar, strict=True)])
    np.testing.assert_allclose(from_logvars.kl_per_latent, given.kl_per_latent)
    expected = 0.5 * np.mean(mu**2 + np.exp(logvar) - logvar - 1, axis=1)
    np.testing.assert_allclose(from_logvars.kl_per_latent, expected)


def test_the_result_is_json_ready_and_gives_each_model_its_entry():
    models, kl = collapsed_pair()
    result = udr(models, kl, similarity="spearman")
    assert result.to_dict()["pairwise"][0][0] is None  # the self-pair
    entry = result.model_entry(1)
    assert entry["score"] == pytest.approx(0.8)
    assert entry["pairwise"] == [pytest.approx(0.8), None]
    assert entry["informative"] == [True] * 6 + [False] * 4
    assert entry["method"] == "spearman" and entry["num_models"] == 2


# -- bad input ---------------------------------------------------------------------------------

GOOD = np.zeros((2, 50, 3)) + np.arange(50)[None, :, None]
GOOD_KL = np.ones((2, 3))


def nan_codes():
    codes = GOOD.copy()
    codes[1, 7, 2] = np.nan
    return codes


def nan_kl():
    kl = GOOD_KL.copy()
    kl[0, 1] = np.nan
    return kl


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: udr(GOOD[:1], GOOD_KL[:1]), "at least 2 .*got 1"),
        (lambda: udr(GOOD[0], GOOD_KL), r"\(num_models, num_points, num_latents\)"),
        (lambda: udr([GOOD[0], GOOD[1][:40]], GOOD_KL), "model 1 have shape .40, 3."),
        (lambda: udr([GOOD[0], GOOD[1][:, :2]], GOOD_KL), "same sample, with the same latents"),
        (lambda: udr(nan_codes(), GOOD_KL), "codes of model 1 contain 1 non-finite"),
        (lambda: udr(GOOD, nan_kl()), "kl_per_latent contains NaN"),
        (lambda: udr(GOOD, GOOD_KL[:, :2]), r"kl_per_latent must have shape"),
        (lambda: udr(GOOD), "either kl_per_latent .* or logvars"),
        (lambda: udr(GOOD, GOOD_KL, logvars=GOOD), "not both"),
        (lambda: udr(GOOD, logvars=GOOD[:, :10]), "logvars have shape"),
        (lambda: udr(GOOD, GOOD_KL, similarity="pearson"), "lasso, spearman, got 'pearson'"),
        (lambda: udr(GOOD, GOOD_KL, kl_threshold=-1.0), "kl_threshold"),
        (lambda: udr(GOOD, GOOD_KL, lasso_alpha=0.0), "lasso_alpha"),
        (lambda: udr(GOOD[:, :1], GOOD_KL), "at least 2 points"),
    ],
)
def test_bad_input_is_one_clear_line(call, message):
    with pytest.raises(InputError, match=message) as error:
        call()
    assert "\n" not in str(error.value)


# -- the reference -----------------------------------------------------------------------------

NUM_MODELS, POOL, LATENTS = 4, 3000, 6


def reference_models():
    """Codes and log-variances (M, POOL, z) of four models of mixed quality: shared latents
    mixed more for later models, 0-3 collapsed latents, latents shuffled per model."""
    rng = np.random.default_rng(11)
    base = rng.standard_normal((POOL, LATENTS))
    codes, logvars = [], []
    for m in range(NUM_MODELS):
        mixing = np.eye(LATENTS) + 0.3 * m * rng.standard_normal((LATENTS, LATENTS))
        mu = base @ mixing + 0.2 * rng.standard_normal((POOL, LATENTS))
        logvar = np.full((POOL, LATENTS), -3.0 + 0.5 * m)
        collapsed = rng.choice(LATENTS, m, replace=False)
        mu[:, collapsed] = 1e-3 * rng.standard_normal((POOL, m))
        logvar[:, collapsed] = 0.0
        order = rng.permutation(LATENTS)
        codes.append(mu[:, order])
        logvars.append(logvar[:, order])
    return np.stack(codes), np.stack(logvars)


class PoolData:
    """The reference's GroundTruthData, reduced to what UDR uses: an observation is an
    index into the pool of encodings."""

    def sample_observations(self, num, random_state):
        return random_state.randint(POOL, size=num)


def run_reference(module, similarity, informative_only, batch_size=10, num_points=1000):
    """disentanglement_lib's compute_udr_sklearn on the pool, and the sample it drew."""
    codes, logvars = reference_models()

    def representation(m):
        def encode(index):
            mu, logvar = codes[m][index], logvars[m][index]
            return mu, 0.5 * np.mean(mu**2 + np.exp(logvar) - logvar - 1, axis=0)

        return encode

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant inputs to spearmanr, its NaN means
        scores = module.compute_udr_sklearn(
            PoolData(),
            [representation(m) for m in range(NUM_MODELS)],
            np.random.RandomState(0),
            batch_size,
            num_points,
            correlation_matrix=similarity,
            filter_low_kl=informative_only,
        )
    draws = np.random.RandomState(0)
    index = np.concatenate(
        [PoolData().sample_observations(batch_size, draws) for _ in range(num_points // batch_size)]
    )
    return scores, codes[:, index], logvars[:, index]


@pytest.mark.parametrize(
    ("similarity", "informative_only"),
    [("lasso", True), ("spearman", True), ("lasso", False)],
)
def test_udr_equals_disentanglement_libs(udr_reference, similarity, informative_only):
    scores, codes, logvars = run_reference(udr_reference, similarity, informative_only)
    ours = udr(codes, logvars=logvars, similarity=similarity, informative_only=informative_only)
    np.testing.assert_allclose(ours.model_scores, scores["model_scores"], rtol=0, atol=1e-6)
    pairwise = np.array(scores["pairwise_disentanglement_scores"])[..., 0]
    np.fill_diagonal(pairwise, np.nan)
    np.testing.assert_allclose(ours.pairwise, pairwise, rtol=0, atol=1e-6)
    raw = np.array(scores["raw_correlations"])
    # The reference's Spearman is NaN against a zeroed (uninformative) latent; ours is 0.
    np.testing.assert_allclose(ours.similarity, np.nan_to_num(raw), rtol=0, atol=1e-6)
    assert np.ptp(ours.model_scores) > 0.005  # the models differ: a test input with content


def test_the_references_spearman_loses_a_side_to_a_constant_latent(udr_reference):
    # Our documented difference: its NaN propagates through max() over the whole matrix.
    codes = hadamard_codes(10)
    other = codes.copy()
    other[:, 3] = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = udr_reference.relative_strength_disentanglement(
            udr_reference.spearman_correlation_conv(codes, other)
        )
    assert theirs == pytest.approx(0.45)


# A loop-by-loop reading of the reference protocol, built on the library calls the reference
# makes (StandardScaler, scipy's spearmanr, sklearn's Lasso). It runs where the reference
# module cannot be installed, and pins the vectorised code to the same steps.


def literal_udr(codes, kl, similarity, informative_only, threshold=0.01):
    num_models, _, num_latents = codes.shape
    informative = kl > threshold
    prepared = [
        StandardScaler().fit_transform(codes[m]) * informative[m] for m in range(num_models)
    ]
    pairwise = np.full((num_models, num_models), np.nan)
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            if similarity == "spearman":
                matrix = np.zeros((num_latents, num_latents))
                for a in range(num_latents):
                    for b in range(num_latents):
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            rho = stats.spearmanr(prepared[i][:, a], prepared[j][:, b])[0]
                        matrix[a, b] = 0.0 if np.isnan(rho) else abs(rho)
            else:
                weights = Lasso(alpha=LASSO_ALPHA).fit(prepared[i], prepared[j]).coef_
                matrix = np.abs(weights).T
            rows = informative[i] if informative_only else np.ones(num_latents, bool)
            columns = informative[j] if informative_only else np.ones(num_latents, bool)
            cropped = matrix[rows][:, columns]
            column_strength = [c.max() ** 2 / c.sum() if c.sum() else 0.0 for c in cropped.T]
            row_strength = [r.max() ** 2 / r.sum() if r.sum() else 0.0 for r in cropped]
            pairwise[i, j] = (np.mean(column_strength) + np.mean(row_strength)) / 2
    model_scores = [np.median(np.delete(pairwise[:, m], m)) for m in range(num_models)]
    return np.array(model_scores), pairwise


@pytest.mark.parametrize("similarity", ["lasso", "spearman"])
@pytest.mark.parametrize("informative_only", [True, False])
def test_udr_equals_a_literal_reading_of_the_reference_protocol(similarity, informative_only):
    codes, logvars = reference_models()
    codes, logvars = codes[:, :1000], logvars[:, :1000]
    kl = np.stack([kl_per_latent(c, v) for c, v in zip(codes, logvars, strict=True)])
    scores, pairwise = literal_udr(codes, kl, similarity, informative_only)
    ours = udr(codes, kl, similarity=similarity, informative_only=informative_only)
    np.testing.assert_allclose(ours.model_scores, scores, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.pairwise, pairwise, rtol=0, atol=1e-6)
    assert np.ptp(scores) > 0.005
