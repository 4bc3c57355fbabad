"""Z-diff (the beta-VAE score): known answers, degenerate cases, the reference.

Most tests use 2,000 / 1,000 points instead of the protocol's 10,000 / 5,000; the
reference comparison uses the full protocol.
"""

import itertools
import json

import numpy as np
import pytest

from kbetavae.metrics.protocol import Protocol
from kbetavae.metrics.representation import CodeTable
from kbetavae.metrics.zdiff import zdiff

SMALL = Protocol(num_train=2_000, num_eval=1_000)


def test_zdiff_is_one_for_factors_plus_small_noise(fakes):
    # Fixing factor k leaves latent k with only noise: mean |mu1 - mu2| ~ 0.11, while every
    # other latent moves by the mean distance of two random classes (>= 0.89 for shape's
    # 3 classes). The smallest feature names k, which a linear classifier learns exactly.
    result = zdiff(fakes.FactorImages(), fakes.identity_encoder(), rng=0, protocol=SMALL)
    assert result.score > 0.99
    assert result.train_accuracy > 0.99
    # The matrix shows it: each column's smallest entry is the fixed factor's latent.
    np.testing.assert_array_equal(np.argmin(result.matrix, axis=0), np.arange(5))


def test_zdiff_is_chance_for_random_codes(fakes):
    # Codes independent of the factors: features carry no trace of k, so the classifier
    # is right 1 time in 5 (+- 0.013 on 1,000 evaluation points).
    result = zdiff(fakes.FactorImages(), fakes.random_encoder(), rng=0, protocol=SMALL)
    assert result.score == pytest.approx(0.2, abs=0.05)
    assert result.chance == 0.2


def test_collapsed_encoder_scores_the_share_of_the_most_frequent_label(fakes):
    # All features are exactly 0; logistic regression can only learn the class priors,
    # so it predicts the most frequent training label everywhere: the score is that
    # label's share of the evaluation points, about 1/5.
    ground_truth = fakes.FactorImages()
    result = zdiff(ground_truth, fakes.collapsed_encoder(), rng=0, protocol=SMALL)
    np.testing.assert_array_equal(result.matrix, 0.0)
    assert result.score == pytest.approx(0.2, abs=0.05)
    # Recompute the eval labels from the same seed (train draws first, then eval).
    from kbetavae.metrics.zdiff import zdiff_points

    rng = np.random.default_rng(0)
    _, train_labels = zdiff_points(ground_truth, fakes.collapsed_encoder(), 2_000, rng)
    _, eval_labels = zdiff_points(ground_truth, fakes.collapsed_encoder(), 1_000, rng)
    majority = np.argmax(np.bincount(train_labels))
    assert result.score == np.mean(eval_labels == majority)


def test_rotation_keeps_zdiff_high_but_below_the_clean_code(fakes):
    # A rotation moves every latent whatever the fixed factor, but by amounts that
    # still depend on which factor is fixed; the classifier recovers most of it.
    ground_truth = fakes.FactorImages()
    rotated = zdiff(ground_truth, fakes.rotated_encoder(), rng=0, protocol=SMALL).score
    assert 0.5 < rotated < 0.99


def test_same_seed_gives_bit_identical_results_and_another_seed_does_not(fakes):
    ground_truth, encoder = fakes.FactorImages(), fakes.rotated_encoder()
    first = json.dumps(zdiff(ground_truth, encoder, 7, SMALL).to_dict())
    second = json.dumps(zdiff(ground_truth, encoder, np.random.default_rng(7), SMALL).to_dict())
    other = json.dumps(zdiff(ground_truth, encoder, 8, SMALL).to_dict())
    assert first == second
    assert first != other


def test_code_table_gives_the_same_numbers_as_encoding_every_image(fakes):
    ground_truth = fakes.FactorImages()
    direct_encoder, table_encoder = fakes.rotated_encoder(), fakes.rotated_encoder()
    direct = zdiff(ground_truth, direct_encoder, 3, Protocol(num_train=300, num_eval=200))
    table = CodeTable(ground_truth, table_encoder)
    looked_up = zdiff(ground_truth, table, 3, Protocol(num_train=300, num_eval=200))
    assert json.dumps(direct.to_dict()) == json.dumps(looked_up.to_dict())
    # Without the table every one of the 2 x 64 x 500 draws is encoded; with it, each
    # distinct image once (64,000 draws from 737,280 images: ~2.7% repeats).
    assert direct_encoder.images_seen == 2 * 64 * 500
    assert table_encoder.images_seen == table.num_encoded < 2 * 64 * 500


def test_result_is_json(fakes):
    result = zdiff(
        fakes.FactorImages(), fakes.identity_encoder(), 0, Protocol(num_train=50, num_eval=20)
    )
    parsed = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert np.shape(parsed["matrix"]) == (5, 5)
    assert sum(parsed["points_per_factor"]) == 70


def test_tiny_samples_with_one_label_do_not_crash(fakes):
    # One training point has one label; the classifier then predicts that label.
    result = zdiff(
        fakes.FactorImages(), fakes.identity_encoder(), 0, Protocol(num_train=1, num_eval=5)
    )
    assert 0.0 <= result.score <= 1.0


@pytest.mark.parametrize("encoder", ["identity", "rotated", "random"])
def test_zdiff_agrees_with_disentanglement_lib_within_0_02(fakes, reference, encoder):
    # Same encoder and data, full protocol (64 / 10,000 / 5,000); the two draw different
    # random points, so the scores agree up to sampling noise (sd ~ 0.006 each).
    make = getattr(fakes, f"{encoder}_encoder")
    expected = reference["beta_vae"].compute_beta_vae_sklearn(
        fakes.ReferenceGroundTruth(),
        make().mu,
        np.random.RandomState(0),
        batch_size=64,
        num_train=10_000,
        num_eval=5_000,
    )["eval_accuracy"]
    ours = zdiff(fakes.FactorImages(), make(), rng=0).score
    assert ours == pytest.approx(expected, abs=0.02)


# --- the classifier -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "solver", "scheme"),
    [("lbfgs", "lbfgs", "multinomial"), ("liblinear_ovr", "liblinear", "one-vs-rest")],
)
def test_the_result_names_its_classifier_and_the_sklearn_version(fakes, name, solver, scheme):
    import sklearn

    result = zdiff(
        fakes.FactorImages(), fakes.identity_encoder(), 0, SMALL.replace(zdiff_classifier=name)
    )
    assert result.to_dict()["classifier"] == {
        "name": name,
        "solver": solver,
        "multi_class": scheme,
        "sklearn_version": sklearn.__version__,
    }
    assert result.score > 0.99  # factors + small noise: either classifier reads k off


def test_liblinear_ovr_is_one_binary_liblinear_fit_per_factor(fakes):
    # The old default, spelled out: for each factor k a binary liblinear logistic
    # regression "k or not", prediction = the k with the largest decision function.
    from sklearn.linear_model import LogisticRegression

    from kbetavae.metrics.zdiff import zdiff_points

    ground_truth, encoder = fakes.FactorImages(), fakes.rotated_encoder()
    result = zdiff(ground_truth, encoder, 4, SMALL.replace(zdiff_classifier="liblinear_ovr"))
    rng = np.random.default_rng(4)
    train_x, train_y = zdiff_points(ground_truth, encoder, SMALL.num_train, rng)
    eval_x, eval_y = zdiff_points(ground_truth, encoder, SMALL.num_eval, rng)
    decisions = np.stack(
        [
            LogisticRegression(solver="liblinear")
            .fit(train_x, train_y == k)
            .decision_function(eval_x)
            for k in range(5)
        ],
        axis=1,
    )
    assert result.score == np.mean(np.argmax(decisions, axis=1) == eval_y)


def test_both_classifiers_score_the_same_features(fakes):
    ground_truth, encoder = fakes.FactorImages(), fakes.rotated_encoder()
    lbfgs = zdiff(ground_truth, encoder, 2, SMALL)
    ovr = zdiff(ground_truth, encoder, 2, SMALL.replace(zdiff_classifier="liblinear_ovr"))
    np.testing.assert_array_equal(lbfgs.matrix, ovr.matrix)
    np.testing.assert_array_equal(lbfgs.points_per_factor, ovr.points_per_factor)
    assert lbfgs.classifier["name"] == "lbfgs"  # the default is unchanged


def test_an_unknown_classifier_is_an_input_error_naming_the_argument(fakes):
    from kbetavae.errors import InputError

    with pytest.raises(InputError, match="^zdiff_classifier must be one of lbfgs, liblinear_ovr"):
        SMALL.replace(zdiff_classifier="svm")


def test_the_result_records_the_solvers_iterations_and_whether_it_hit_the_limit(fakes, monkeypatch):
    """The study's runs kept whether lbfgs stopped at its limit of 100 iterations
    (``converged``); the iterations used and the limit say by how much. With the limit cut
    to 2 the solver stops there on these features: iterations = max_iter = 2, not converged."""
    import importlib

    from sklearn.linear_model import LogisticRegression

    zdiff_module = importlib.import_module("kbetavae.metrics.zdiff")
    ground_truth, encoder = fakes.FactorImages(), fakes.rotated_encoder()
    result = zdiff(ground_truth, encoder, 1, SMALL)
    record = result.to_dict()
    assert record["max_iter"] == LogisticRegression().max_iter == 100
    assert 0 < record["iterations"] <= 100
    assert record["converged"] == (record["iterations"] < 100)
    monkeypatch.setattr(
        zdiff_module, "_make_classifier", lambda name, limit=None: LogisticRegression(max_iter=2)
    )
    capped = zdiff(ground_truth, encoder, 1, SMALL)
    assert (capped.iterations, capped.max_iter, capped.converged) == (2, 2, False)


# --- protocol variants (ZDIFF_VARIANTS) -----------------------------------------------------


def _score(fakes, encoder, seed, variant, protocol=SMALL):
    return zdiff(fakes.FactorImages(), encoder, seed, protocol, variant=variant)


def test_the_default_variant_is_the_protocol_bit_for_bit(fakes):
    encoder = fakes.rotated_encoder()
    plain = zdiff(fakes.FactorImages(), encoder, 5, SMALL)
    named = _score(fakes, encoder, 5, "disentanglement_lib")
    assert json.dumps(plain.to_dict()) == json.dumps(named.to_dict())


def test_an_unknown_variant_is_one_input_error_line_listing_the_variants(fakes):
    from kbetavae.errors import InputError

    with pytest.raises(InputError) as error:
        _score(fakes, fakes.identity_encoder(), 0, "L64")
    assert str(error.value) == (
        "Z-diff variant must be one of disentanglement_lib, six-factors, train-100, L8, L1, "
        "signed, converged, got 'L64'"
    )


def test_six_factors_keeps_a_clean_code_at_one_with_six_labels(fakes):
    # Colour's points (label 0) fix nothing, so every latent moves (>= 0.89 for shape's
    # latent, as in the unfixed latents of the protocol); every other label has one still
    # latent (~0.11). "No still latent" is a class of its own, linearly separable: 1.
    result = _score(fakes, fakes.identity_encoder(), 0, "six-factors")
    assert result.score > 0.99
    assert result.chance == pytest.approx(1 / 6)
    assert result.matrix.shape == (5, 6) and result.points_per_factor.shape == (6,)
    assert result.matrix[:, 0].min() > 0.8  # colour: nothing still
    np.testing.assert_array_equal(np.argmin(result.matrix[:, 1:], axis=0), np.arange(5))


def test_six_factors_caps_a_code_without_a_posy_latent_at_five_sixths(fakes):
    # posY's latent is noise alone: fixing posY leaves every latent moving, as fixing colour
    # does. The protocol still scores 1 (posY's points alone have no still latent); with six
    # labels, colour's and posY's 1/6 each are one distribution, so any classifier gets
    # half of those 2/6 right: ceiling 4/6 + 1/6 = 5/6. Mean of 8 seeds (sd ~ 0.008).
    no_posy = fakes.FakeEncoder(np.diag([1.0, 1, 1, 1, 0]), 0.1)
    assert _score(fakes, no_posy, 0, "disentanglement_lib").score > 0.99
    scores = [_score(fakes, no_posy, seed, "six-factors").score for seed in range(8)]
    assert np.mean(scores) == pytest.approx(5 / 6, abs=0.03)


def test_train_100_trains_on_100_points_and_loses_accuracy_on_overlapping_classes(fakes):
    # Well-separated classes need few points: the clean code still scores 1. On the rotated
    # code the classes overlap; a fit on 100 points is further from the best linear rule
    # than one on 2,000, so it scores lower (by ~0.04 on these seeds).
    clean = _score(fakes, fakes.identity_encoder(), 0, "train-100")
    assert clean.score > 0.99
    assert clean.points_per_factor.sum() == 100 + SMALL.num_eval
    few, many = (
        np.mean([_score(fakes, fakes.rotated_encoder(), s, v).score for s in range(3)])
        for v in ("train-100", "disentanglement_lib")
    )
    assert few < many - 0.01


def _one_pair_ceiling(sizes):
    """Best accuracy from one noise-free pair per point: the still latents are the fixed
    factor plus each other factor equal by chance (probability 1 / size); a factor of size
    s is equal by chance 1/s as often as fixed, so the best guess is the still factor with
    the most values (ties split evenly)."""
    total = 0.0
    for k, size in enumerate(sizes):
        others = [s for i, s in enumerate(sizes) if i != k]
        for equal in itertools.product((False, True), repeat=len(others)):
            pairs = list(zip(others, equal, strict=True))
            chance = np.prod([1 / s if e else 1 - 1 / s for s, e in pairs])
            still = [s for s, e in pairs if e]
            if all(s <= size for s in still):
                total += chance / (1 + still.count(size))
    return total / len(sizes)


def test_l1_caps_a_clean_code_at_the_one_pair_ceiling(fakes):
    # dSprites: shape right 0.762, scale 0.915, orientation 1, posX/posY 0.960: 0.919.
    ceiling = _one_pair_ceiling(fakes.SIZES)
    assert ceiling == pytest.approx(0.9194, abs=1e-4)
    result = _score(fakes, fakes.identity_encoder(), 0, "L1")
    assert result.score == pytest.approx(ceiling, abs=0.03)
    assert result.points_per_factor.sum() == SMALL.num_train + SMALL.num_eval


def test_fewer_pairs_per_point_lose_more_to_noise(fakes):
    # Latent = factor + N(0, 1): a still latent's |mu1 - mu2| averages 2/sqrt(pi) = 1.13 and
    # a moving one's a little more; the mean over L pairs has sd ~ 1/sqrt(L), so the classes
    # overlap less as L grows: L1 < L8 < L64 (measured 0.66, 0.97, 1.00).
    noisy = fakes.identity_encoder(noise_scale=1.0)
    l1, l8, l64 = (_score(fakes, noisy, 0, v).score for v in ("L1", "L8", "disentanglement_lib"))
    assert l1 < l8 - 0.1 and l8 < l64


def test_signed_differences_leave_any_code_at_chance(fakes):
    # The two batches are exchangeable, so mu1 - mu2 is symmetric about 0 for every label:
    # the logistic loss at W equals that at -W, so (convex) W = 0 is best and only the
    # class priors remain: 0.2 even for the clean code, and the matrix of mean features is
    # ~0 where the absolute one is 0.11 (still) to 13 (orientation moving).
    encoder = fakes.identity_encoder()
    signed = _score(fakes, encoder, 0, "signed")
    absolute = _score(fakes, encoder, 0, "disentanglement_lib")
    assert signed.score == pytest.approx(0.2, abs=0.05)
    assert np.all(np.abs(signed.matrix) < 0.1 * absolute.matrix)


def test_converged_lets_the_fit_reach_its_optimum_and_equals_the_protocol_where_it_did(fakes):
    # lbfgs is deterministic: a fit that converges within the default 100 iterations is
    # the same fit under a 10,000 limit (the rotated code: 63 iterations here). The same
    # code scaled by 10 (|mu1 - mu2| features 10 times larger, as unscaled VAE codes can
    # be) needs more: the protocol's fit stops at 100, the variant's converges (162).
    rotated = fakes.rotated_encoder()
    plain, converged = (_score(fakes, rotated, 0, v) for v in ("disentanglement_lib", "converged"))
    assert plain.converged and plain.iterations < 100
    assert json.dumps({**converged.to_dict(), "max_iter": 100}) == json.dumps(plain.to_dict())
    scaled = fakes.FakeEncoder(10 * rotated.mixing, 0.1)
    cut, reached = (_score(fakes, scaled, 0, v) for v in ("disentanglement_lib", "converged"))
    assert (cut.iterations, cut.max_iter, cut.converged) == (100, 100, False)
    assert reached.converged and 100 < reached.iterations < reached.max_iter == 10_000
