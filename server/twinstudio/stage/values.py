"""Wire values <-> USD values, with validation.

On the wire (msgpack) every USD value is plain data:

=====================  ==========================================
USD type               wire form
=====================  ==========================================
bool, int*, float*     bool / int / float (finite)
token, string          str
asset                  str, a path relative to the room's asset library
vecN*, color, point    list of N numbers
quat*                  [w, x, y, z]
matrixNd               N lists of N numbers (row major, as Gf)
T[]                    list of T (at most ``MAX_ARRAY`` elements)
=====================  ==========================================

``to_usd`` raises :class:`ValueRejected` (a code and a sentence) instead of
letting a bad value reach the stage; ``to_wire`` is its exact inverse for
every type listed here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from pxr import Gf, Sdf, Vt

from twinstudio.errors import Refused

MAX_ARRAY = 200_000
MAX_STRING = 16_384


class ValueRejected(Refused):
    """A wire value that cannot become a value of the target USD type."""


_VEC_CTORS: dict[str, tuple[int, Any, Any, Any]] = {
    # cpp scalar type -> (size, Gf ctor, Vt array type, numpy dtype)
    "GfVec2f": (2, Gf.Vec2f, Vt.Vec2fArray, np.float32),
    "GfVec3f": (3, Gf.Vec3f, Vt.Vec3fArray, np.float32),
    "GfVec4f": (4, Gf.Vec4f, Vt.Vec4fArray, np.float32),
    "GfVec2d": (2, Gf.Vec2d, Vt.Vec2dArray, np.float64),
    "GfVec3d": (3, Gf.Vec3d, Vt.Vec3dArray, np.float64),
    "GfVec4d": (4, Gf.Vec4d, Vt.Vec4dArray, np.float64),
    "GfVec2h": (2, Gf.Vec2h, Vt.Vec2hArray, np.float16),
    "GfVec3h": (3, Gf.Vec3h, Vt.Vec3hArray, np.float16),
    "GfVec4h": (4, Gf.Vec4h, Vt.Vec4hArray, np.float16),
    "GfVec2i": (2, Gf.Vec2i, Vt.Vec2iArray, np.int32),
    "GfVec3i": (3, Gf.Vec3i, Vt.Vec3iArray, np.int32),
    "GfVec4i": (4, Gf.Vec4i, Vt.Vec4iArray, np.int32),
}
_QUAT_CTORS: dict[str, tuple[Any, Any, Any, Any]] = {
    "GfQuatf": (Gf.Quatf, Gf.Vec3f, Vt.QuatfArray, np.float32),
    "GfQuatd": (Gf.Quatd, Gf.Vec3d, Vt.QuatdArray, np.float64),
    "GfQuath": (Gf.Quath, Gf.Vec3h, Vt.QuathArray, np.float16),
}
_MATRIX_CTORS: dict[str, tuple[int, Any, Any]] = {
    "GfMatrix2d": (2, Gf.Matrix2d, Vt.Matrix2dArray),
    "GfMatrix3d": (3, Gf.Matrix3d, Vt.Matrix3dArray),
    "GfMatrix4d": (4, Gf.Matrix4d, Vt.Matrix4dArray),
}
_FLOATS: dict[str, tuple[Any, Any]] = {
    "float": (Vt.FloatArray, np.float32),
    "double": (Vt.DoubleArray, np.float64),
    "pxr_half::half": (Vt.HalfArray, np.float16),
}
_INTS: dict[str, tuple[Any, int, int]] = {
    "int": (Vt.IntArray, -(2**31), 2**31 - 1),
    "unsigned int": (Vt.UIntArray, 0, 2**32 - 1),
    "long": (Vt.Int64Array, -(2**63), 2**63 - 1),
    "unsigned long": (Vt.UInt64Array, 0, 2**64 - 1),
    "unsigned char": (Vt.UCharArray, 0, 255),
}
_ASSET_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def type_label(type_name: Sdf.ValueTypeName) -> str:
    """The USD spelling of a value type, for error messages (``float3``, ``quatf[]``)."""
    return str(type_name)


def _reject_type(type_name: Sdf.ValueTypeName, value: object) -> ValueRejected:
    return ValueRejected(
        "type_mismatch",
        f"expected a {type_label(type_name)} value, got {type(value).__name__}",
    )


def _number(value: object, type_name: Sdf.ValueTypeName) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _reject_type(type_name, value)
    if not math.isfinite(value):
        raise ValueRejected("not_finite", f"{type_label(type_name)} values must be finite")
    return float(value)


def check_asset_path(path: str) -> str:
    """Accept only library-relative asset paths: no scheme, no absolute path, no ``..``."""
    if not path:
        return path
    if len(path) > 1024:
        raise ValueRejected("asset_path_invalid", "asset paths are limited to 1024 characters")
    if "\\" in path or "\x00" in path:
        raise ValueRejected("asset_path_invalid", f"asset path {path!r} has a forbidden character")
    if _ASSET_SCHEME.match(path) or path.startswith("/") or path.startswith("~"):
        raise ValueRejected(
            "asset_path_outside_library",
            f"asset path {path!r} must be relative to the room's asset library "
            "(no URLs, no absolute paths)",
        )
    if any(part == ".." for part in path.split("/")):
        raise ValueRejected(
            "asset_path_outside_library",
            f"asset path {path!r} climbs out of the asset library with '..'",
        )
    return path


def _numeric_array(value: object, type_name: Sdf.ValueTypeName, width: int, dtype: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise _reject_type(type_name, value)
    if len(value) > MAX_ARRAY:
        raise ValueRejected(
            "too_large", f"arrays are limited to {MAX_ARRAY} elements, got {len(value)}"
        )
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _reject_type(type_name, value) from None
    expected = (len(value),) if width == 1 else (len(value), width)
    if len(value) == 0:
        arr = arr.reshape(expected)
    if arr.shape != expected or arr.dtype == object:
        raise ValueRejected(
            "type_mismatch",
            f"{type_label(type_name)} expects "
            + ("a list of numbers" if width == 1 else f"a list of {width}-number lists"),
        )
    if any(isinstance(v, bool) for v in (value if width == 1 else [])):
        raise _reject_type(type_name, value)
    if not np.all(np.isfinite(arr)):
        raise ValueRejected("not_finite", f"{type_label(type_name)} values must be finite")
    return arr.astype(dtype)


def _tuple(value: object, type_name: Sdf.ValueTypeName, size: int) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != size:
        raise ValueRejected(
            "type_mismatch", f"{type_label(type_name)} expects a list of {size} numbers"
        )
    return [_number(v, type_name) for v in value]


def _scalar_to_usd(value: object, type_name: Sdf.ValueTypeName, cpp: str) -> Any:
    if cpp == "bool":
        if not isinstance(value, bool):
            raise _reject_type(type_name, value)
        return value
    if cpp in _FLOATS:
        return _number(value, type_name)
    if cpp in _INTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _reject_type(type_name, value)
        _, lo, hi = _INTS[cpp]
        if not lo <= value <= hi:
            raise ValueRejected("out_of_range", f"{type_label(type_name)} must be in [{lo}, {hi}]")
        return value
    if cpp in ("TfToken", "string", "SdfAssetPath"):
        if not isinstance(value, str):
            raise _reject_type(type_name, value)
        if len(value) > MAX_STRING:
            raise ValueRejected("too_large", f"strings are limited to {MAX_STRING} characters")
        if cpp == "SdfAssetPath":
            return Sdf.AssetPath(check_asset_path(value))
        return value
    if cpp in _VEC_CTORS:
        size, ctor, _, _ = _VEC_CTORS[cpp]
        nums = _tuple(value, type_name, size)
        if cpp.endswith("i"):
            if any(not float(n).is_integer() for n in nums):
                raise _reject_type(type_name, value)
            return ctor(*[int(n) for n in nums])
        return ctor(*nums)
    if cpp in _QUAT_CTORS:
        quat, vec, _, _ = _QUAT_CTORS[cpp]
        w, x, y, z = _tuple(value, type_name, 4)
        return quat(w, vec(x, y, z))
    if cpp in _MATRIX_CTORS:
        n, ctor, _ = _MATRIX_CTORS[cpp]
        if not isinstance(value, list | tuple) or len(value) != n:
            raise ValueRejected("type_mismatch", f"{type_label(type_name)} expects {n} rows")
        rows = [_tuple(row, type_name, n) for row in value]
        return ctor(*[v for row in rows for v in row])
    raise ValueRejected(
        "type_unsupported", f"values of type {type_label(type_name)} can't be edited"
    )


def _array_to_usd(value: object, type_name: Sdf.ValueTypeName, cpp: str) -> Any:
    if not isinstance(value, list | tuple):
        raise _reject_type(type_name, value)
    if len(value) > MAX_ARRAY:
        raise ValueRejected(
            "too_large", f"arrays are limited to {MAX_ARRAY} elements, got {len(value)}"
        )
    if cpp in _FLOATS:
        vt, dtype = _FLOATS[cpp]
        return vt.FromNumpy(_numeric_array(value, type_name, 1, dtype))
    if cpp in _VEC_CTORS:
        size, _, vt, dtype = _VEC_CTORS[cpp]
        return vt.FromNumpy(_numeric_array(value, type_name, size, dtype))
    if cpp in _QUAT_CTORS:
        _, _, vt, dtype = _QUAT_CTORS[cpp]
        wxyz = _numeric_array(value, type_name, 4, np.float64)
        return vt.FromNumpy(np.ascontiguousarray(np.roll(wxyz, -1, axis=1).astype(dtype)))
    element = type_name.scalarType
    convert: Callable[[object], Any] = lambda v: _scalar_to_usd(v, element, cpp)  # noqa: E731
    items = [convert(v) for v in value]
    return type_name.type.pythonClass(items)


def to_usd(value: object, type_name: Sdf.ValueTypeName) -> Any:
    """Convert a decoded wire value to a value of ``type_name``; raise ValueRejected if unfit."""
    cpp = type_name.scalarType.type.typeName
    if type_name.isArray:
        return _array_to_usd(value, type_name, cpp)
    return _scalar_to_usd(value, type_name, cpp)


def _scalar_to_wire(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Sdf.AssetPath):
        return value.path
    if isinstance(value, Gf.Quatf | Gf.Quatd | Gf.Quath):
        im = value.GetImaginary()
        return [float(value.GetReal()), float(im[0]), float(im[1]), float(im[2])]
    if isinstance(value, Gf.Matrix2d | Gf.Matrix3d | Gf.Matrix4d):
        n = 4 if isinstance(value, Gf.Matrix4d) else 3 if isinstance(value, Gf.Matrix3d) else 2
        return [[float(value[r][c]) for c in range(n)] for r in range(n)]
    if hasattr(value, "__len__") and hasattr(value, "__getitem__"):
        return [v if isinstance(v, int) and not isinstance(v, bool) else float(v) for v in value]
    return float(value)


def to_wire(value: Any) -> Any:
    """Convert a USD value (as returned by ``Attribute.Get``) to its plain wire form."""
    if value is None:
        return None
    if isinstance(value, Vt.QuatfArray | Vt.QuatdArray | Vt.QuathArray):
        arr = np.asarray(value, dtype=np.float64)
        return np.roll(arr, 1, axis=1).tolist() if len(arr) else []
    if isinstance(value, Vt.TokenArray | Vt.StringArray):
        return [str(v) for v in value]
    if type(value).__name__ == "AssetArray":
        return [v.path for v in value]
    if type(value).__module__ == "pxr.Vt" and hasattr(value, "__len__"):
        if isinstance(value, Vt.Matrix2dArray | Vt.Matrix3dArray | Vt.Matrix4dArray):
            return [_scalar_to_wire(m) for m in value]
        if isinstance(value, Vt.BoolArray):
            return [bool(v) for v in value]
        arr = np.asarray(value)
        if arr.dtype.kind in "iu":
            return arr.tolist()
        return arr.astype(np.float64).tolist()
    return _scalar_to_wire(value)
