"""Wire values <-> USD values: exact round trips, and clear refusals for bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pxr import Sdf

from twinstudio.stage.values import MAX_ARRAY, ValueRejected, check_asset_path, to_usd, to_wire

T = Sdf.ValueTypeNames
finite = st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e6, max_value=1e6)


def roundtrip(value: object, type_name: Sdf.ValueTypeName) -> object:
    return to_wire(to_usd(value, type_name))


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        (T.Bool, True),
        (T.Int, -7),
        (T.UInt, 7),
        (T.Float, 2.5),
        (T.Double, 1e-3),
        (T.Token, "studio"),
        (T.String, "a note"),
        (T.Asset, "props/apple_box.usda"),
        (T.Float3, [1.0, 2.0, 3.0]),
        (T.Color3f, [0.25, 0.5, 1.0]),
        (T.Double3, [1.5, -2.0, 0.0]),
        (T.Int2, [3, 4]),
        (T.Quatf, [1.0, 0.0, 0.0, 0.0]),
        (T.Quatd, [0.5, 0.5, 0.5, 0.5]),
        (T.Matrix4d, [[1.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 3.0, 0], [4.0, 5.0, 6.0, 1.0]]),
        (T.FloatArray, [1.0, 2.0]),
        (T.IntArray, [1, 2, 3]),
        (T.Float3Array, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        (T.QuatfArray, [[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]]),
        (T.TokenArray, ["xformOp:translate", "xformOp:scale"]),
        (T.Float3Array, []),
    ],
)
def test_roundtrip_is_exact(type_name: Sdf.ValueTypeName, value: object) -> None:
    assert roundtrip(value, type_name) == value


@given(st.lists(st.tuples(finite, finite, finite), max_size=50))
def test_float3_arrays_roundtrip(points: list[tuple[float, float, float]]) -> None:
    value = [list(p) for p in points]
    assert roundtrip(value, T.Float3Array) == value


@given(st.lists(st.tuples(finite, finite, finite, finite), max_size=20))
def test_quaternion_arrays_keep_wxyz_order(quats: list[tuple[float, ...]]) -> None:
    value = [list(q) for q in quats]
    assert roundtrip(value, T.QuatfArray) == value


@pytest.mark.parametrize(
    ("type_name", "value", "code"),
    [
        (T.Float, "bright", "type_mismatch"),
        (T.Float, True, "type_mismatch"),
        (T.Float, math.nan, "not_finite"),
        (T.Float, math.inf, "not_finite"),
        (T.Float3, [1.0, 2.0], "type_mismatch"),
        (T.Float3, [1.0, math.nan, 2.0], "not_finite"),
        (T.Float3Array, [[1.0, 2.0, math.inf]], "not_finite"),
        (T.Float3Array, [[1.0, 2.0]], "type_mismatch"),
        (T.Float3Array, [[0.0, 0.0, 0.0]] * (MAX_ARRAY + 1), "too_large"),
        (T.Int, 2**40, "out_of_range"),
        (T.Int, 1.5, "type_mismatch"),
        (T.Bool, 1, "type_mismatch"),
        (T.Token, 3, "type_mismatch"),
        (T.String, "x" * 20_000, "too_large"),
        (T.Quatf, [1.0, 0.0, 0.0], "type_mismatch"),
        (T.Matrix4d, [[1.0, 0, 0, 0]], "type_mismatch"),
        (T.Asset, "../secrets.usda", "asset_path_outside_library"),
        (T.Asset, "/etc/passwd", "asset_path_outside_library"),
        (T.Asset, "https://example.com/x.usda", "asset_path_outside_library"),
        (T.Asset, "file:///etc/passwd", "asset_path_outside_library"),
        (T.Relationship if hasattr(T, "Relationship") else T.Opaque, 1, "type_unsupported"),
    ],
)
def test_bad_values_are_refused_with_a_code(
    type_name: Sdf.ValueTypeName, value: object, code: str
) -> None:
    with pytest.raises(ValueRejected) as info:
        to_usd(value, type_name)
    assert info.value.code == code
    assert info.value.message


@pytest.mark.parametrize("path", ["props/a.usda", "./props/a.usda", "twin/twin.usdc"])
def test_library_relative_asset_paths_are_accepted(path: str) -> None:
    assert check_asset_path(path) == path


@pytest.mark.parametrize("path", ["a/../../b.usda", "..\\b.usda", "C:/x.usda", "~/x.usda"])
def test_escaping_asset_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueRejected):
        check_asset_path(path)
