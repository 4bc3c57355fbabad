"""Codes of factor vectors: rendered-and-encoded, or looked up in a CodeTable."""

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.representation import (
    CodeTable,
    factor_encoder,
    sample_codes,
    split_encoding,
)


def test_a_table_encodes_each_image_once(fakes):
    ground_truth, encoder = fakes.FactorImages(), fakes.identity_encoder()
    table = CodeTable(ground_truth, encoder, batch_size=100)
    factors = ground_truth.sample_factors(1_000, np.random.default_rng(0))
    repeated = np.concatenate([factors, factors, factors[:10]])
    codes = table.codes(repeated)
    assert encoder.images_seen == table.num_encoded == len(np.unique(ground_truth.index(factors)))
    table.codes(factors)
    assert encoder.images_seen == table.num_encoded  # nothing new to encode
    expected = fakes.identity_encoder().mu(repeated.astype(np.float32))
    np.testing.assert_array_equal(codes, expected)


def test_fill_encodes_the_whole_grid(fakes):
    ground_truth, encoder = fakes.FactorImages(), fakes.identity_encoder()
    table = CodeTable(ground_truth, encoder, batch_size=65_536).fill()
    assert table.num_encoded == encoder.images_seen == 737_280
    assert table.has_logvar
    index = np.array([0, 12345, 737_279])
    np.testing.assert_array_equal(table.logvars_at(index), 0.0)


def test_a_table_from_codes_needs_one_row_per_image(fakes):
    with pytest.raises(InputError, match="one row per image"):
        CodeTable.from_codes(fakes.FactorImages(), np.zeros((10, 3)))


def test_a_table_from_codes_looks_codes_up_by_factor_index(fakes):
    ground_truth = fakes.FactorImages()
    codes = np.arange(737_280, dtype=np.float32)[:, None] * [1.0, -1.0]
    table = CodeTable.from_codes(ground_truth, codes)
    factors = np.array([[0, 0, 0, 0, 1], [2, 5, 39, 31, 31]])
    np.testing.assert_array_equal(table.codes(factors), [[1, -1], [737_279, -737_279]])
    assert table.logvars_at(np.array([0])) is None


def test_the_image_path_passes_float32_images_in_batches(fakes):
    seen = []

    def representation(images):
        seen.append((images.dtype, len(images)))
        return images[:, :2]

    encode = factor_encoder(fakes.FactorImages(), representation, batch_size=4)
    codes = encode(np.array([[1, 2, 3, 4, 5]] * 10))
    assert seen == [(np.float32, 4), (np.float32, 4), (np.float32, 2)]
    np.testing.assert_array_equal(codes, [[1, 2]] * 10)


def test_an_encoder_producing_nan_is_an_input_error(fakes):
    def broken(images):
        mu = np.zeros((len(images), 3))
        mu[-1, 1] = np.nan
        return mu

    with pytest.raises(InputError, match="non-finite.*NaN"):
        sample_codes(fakes.FactorImages(), broken, 10, np.random.default_rng(0))
    with pytest.raises(InputError, match="non-finite"):
        CodeTable(fakes.FactorImages(), broken).codes(np.zeros((2, 5), dtype=int))


def test_an_encoder_with_the_wrong_batch_size_is_an_input_error(fakes):
    with pytest.raises(InputError, match=r"codes of shape \(1, 3\) for 5 images"):
        sample_codes(fakes.FactorImages(), lambda x: np.zeros((1, 3)), 5, 0)


def test_a_table_for_another_grid_is_refused(fakes):
    table = CodeTable(fakes.FactorImages((3, 6, 40, 32, 16)), fakes.identity_encoder())
    with pytest.raises(InputError, match="other factors"):
        factor_encoder(fakes.FactorImages(), table)


@pytest.mark.parametrize(
    ("output", "has_logvar"),
    [
        (np.ones((2, 3)), False),
        ((np.ones((2, 3)), np.zeros((2, 3))), True),
        ({"mu": np.ones((2, 3)), "logvar": np.zeros((2, 3))}, True),
        ({"mu": np.ones((2, 3))}, False),
    ],
)
def test_encoder_outputs_mu_a_pair_or_a_signature_dict(output, has_logvar):
    mu, logvar = split_encoding(output)
    np.testing.assert_array_equal(mu, 1.0)
    assert (logvar is not None) == has_logvar


def test_a_dict_without_mu_is_an_input_error():
    with pytest.raises(InputError, match="without 'mu'"):
        split_encoding({"z": np.ones(2)})


def test_a_group_of_tables_renders_and_encodes_each_image_once_for_all_members(fakes):
    ground_truth = fakes.FactorImages()
    encoders = [fakes.identity_encoder(), fakes.rotated_encoder()]
    calls = []

    def encode_many(images):
        calls.append(len(images))
        return [encoder(images) for encoder in encoders]

    tables = CodeTable.group(ground_truth, encode_many, 2, batch_size=300)
    factors = ground_truth.sample_factors(1_000, np.random.default_rng(0))
    distinct = len(np.unique(ground_truth.index(factors)))
    first = tables[0].codes(factors)
    second = tables[1].codes(factors)  # filled by the first lookup: nothing rendered
    assert ground_truth.images_rendered == sum(calls) == distinct
    assert all(encoder.images_seen == distinct for encoder in encoders)
    assert [table.num_encoded for table in tables] == [distinct, distinct]
    alone = [CodeTable(fakes.FactorImages(), encoder).codes(factors) for encoder in encoders]
    np.testing.assert_array_equal(first, alone[0])
    np.testing.assert_array_equal(second, alone[1])


def test_a_group_whose_encode_many_returns_the_wrong_count_is_an_input_error(fakes):
    encoder = fakes.identity_encoder()
    tables = CodeTable.group(fakes.FactorImages(), lambda images: [encoder(images)], 2)
    with pytest.raises(InputError, match="1 outputs for 2 models"):
        tables[0].codes(np.zeros((3, 5), dtype=int))


def test_uint8_images_reach_only_encoders_that_accept_them():
    class Uint8Images:
        factor_sizes, factor_names, num_images = (4,), ("x",), 4

        def index(self, factors):
            return np.asarray(factors)[:, 0]

        def images_at(self, index):
            return np.asarray(index, dtype=np.uint8)[:, None, None, None]

    seen = []

    def plain(images):
        seen.append(images.dtype)
        return images.reshape(len(images), 1).astype(np.float32)

    def casting(images):
        seen.append(images.dtype)
        return images.reshape(len(images), 1).astype(np.float32)

    casting.accepts_uint8 = True
    for encode in (plain, casting):
        CodeTable(Uint8Images(), encode).codes(np.array([[1], [3]]))
    assert seen == [np.float32, np.uint8]


def batch_dependent(calls_before_stop=None):
    """An encoder whose codes depend, in small digits, on the batch they are encoded in (as
    the XLA formulations' do in the last bits); KeyboardInterrupt on call ``calls_before_stop
    + 1`` if given."""
    calls = []

    def encode(images):
        if calls_before_stop is not None and len(calls) == calls_before_stop:
            raise KeyboardInterrupt
        calls.append(len(images))
        mu = images[:, :2] + 1e-3 * images.mean()
        return mu.astype(np.float32), np.zeros((len(images), 2), np.float32)

    encode.calls = calls
    return encode


def test_a_group_resumed_from_its_store_gives_the_uninterrupted_codes_bit_for_bit(
    fakes, monkeypatch
):
    # Codes are stored chunk by chunk, each chunk starting at a multiple of the batch size:
    # a stopped table resumed from its store encodes the rest in the very batches it would
    # have used, so even batch-dependent codes come out equal.
    from kbetavae.metrics import representation

    monkeypatch.setattr(representation, "CHUNK_BATCHES", 2)
    monkeypatch.setattr(representation, "SAVE_EVERY_SECONDS", 0.0)
    ground_truth = fakes.FactorImages()
    factors = ground_truth.sample_factors(2_000, np.random.default_rng(0))
    distinct = len(np.unique(ground_truth.index(factors)))

    def group(encode, store=None):
        return CodeTable.group(
            ground_truth, lambda images: [encode(images)], 1, batch_size=150, store=store
        )

    (whole,) = group(batch_dependent())
    expected = whole.codes(factors)
    store = fakes.MemoryStore()
    (stopped,) = group(batch_dependent(calls_before_stop=5), store)
    with pytest.raises(KeyboardInterrupt):
        stopped.codes(factors)
    # Two chunks of two batches were stored; the fifth batch was lost with the stop.
    assert store.kept[0][2].sum() == 4 * 150
    encode = batch_dependent()
    (resumed,) = group(encode, store)
    assert resumed.codes_loaded == 600
    np.testing.assert_array_equal(resumed.codes(factors), expected)
    assert sum(encode.calls) == distinct - 600
    # Chunks that do not start at multiples of the batch size would change the codes.
    offset = CodeTable(ground_truth, batch_dependent(), batch_size=150)
    offset.codes(factors[:7])
    assert not np.array_equal(offset.codes(factors), expected)


def test_a_group_starts_empty_unless_every_member_has_codes_kept(fakes):
    ground_truth = fakes.FactorImages()
    encoders = [fakes.identity_encoder(), fakes.rotated_encoder()]
    factors = ground_truth.sample_factors(500, np.random.default_rng(1))
    store = fakes.MemoryStore()
    tables = CodeTable.group(
        ground_truth, lambda images: [e(images) for e in encoders], 2, store=store
    )
    codes = [table.codes(factors) for table in tables]
    assert store.saves == 0  # saved every SAVE_EVERY_SECONDS or at flush()
    tables[1].flush()
    tables[0].flush()  # nothing new since: no second save
    assert store.saves == 1
    again = CodeTable.group(ground_truth, lambda images: 1 / 0, 2, store=store)
    for table, expected in zip(again, codes, strict=True):
        np.testing.assert_array_equal(table.codes(factors), expected)  # nothing encoded
        assert table.codes_loaded == len(np.unique(ground_truth.index(factors)))
    store.kept[1] = None  # one member's file lost
    fresh = CodeTable.group(
        ground_truth, lambda images: [e(images) for e in encoders], 2, store=store
    )
    assert [table.codes_loaded for table in fresh] == [0, 0]
    np.testing.assert_array_equal(fresh[1].codes(factors), codes[1])
