"""Reading a glTF 2.0 file safely: the GLB container, the JSON, buffers and accessors.

pygltflib turns the JSON into its dataclasses; everything that points into binary data
(chunk lengths, buffer sizes, buffer views, accessor offsets and strides, data URIs,
external files) is checked here before numpy reads a byte, so a broken or hostile file is
refused with a message instead of read out of bounds.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
from numpy.typing import NDArray
from pygltflib import GLTF2

from twinstudio.assets.importers.report import (
    FEATURE_UNSUPPORTED,
    FILE_MALFORMED,
    FILE_UNREADABLE,
    FORMAT_UNSUPPORTED,
    ImportRefused,
)

GLB_MAGIC = b"glTF"
MAX_FILE_BYTES = 1 << 30  # a twin is tens of MB; refuse rather than exhaust memory
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942
COMPONENTS: dict[int, np.dtype[Any]] = {
    5120: np.dtype("<i1"),
    5121: np.dtype("<u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
# Other formats that get renamed .glb/.gltf by mistake, named so the message helps.
_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a zip archive (a .usdz?)",
    b"PXR-USDC": "a binary USD file (.usdc)",
    b"#usda": "a text USD file (.usda)",
}


def sniff(data: bytes) -> str | None:
    """What ``data`` is when it is one of the common non-glTF formats, else None."""
    for magic, what in _SIGNATURES.items():
        if data.startswith(magic):
            return what
    return None


@dataclass
class GltfFile:
    """A parsed glTF: ``doc`` (pygltflib), with checked access to its binary data."""

    path: Path
    doc: Any  # pygltflib.GLTF2 (untyped)
    binary_chunk: bytes | None
    _buffers: dict[int, bytes] = field(default_factory=dict)

    # -- buffers --------------------------------------------------------------------------

    def buffer(self, index: int) -> bytes:
        if index in self._buffers:
            return self._buffers[index]
        buf = item(self.doc.buffers, index, "buffer")
        declared = buf.byteLength
        if not isinstance(declared, int) or declared < 0:
            raise ImportRefused(FILE_MALFORMED, f"buffer {index} has no valid byteLength")
        if buf.uri is None:
            if index != 0 or self.binary_chunk is None:
                raise ImportRefused(
                    FILE_MALFORMED, f"buffer {index} has no uri and there is no GLB binary chunk"
                )
            data = self.binary_chunk
        else:
            data = self._uri_bytes(buf.uri, f"buffer {index}")
        if len(data) < declared:
            raise ImportRefused(
                FILE_MALFORMED,
                f"buffer {index} should hold {declared} bytes but has {len(data)}: "
                "the file is truncated",
            )
        self._buffers[index] = data[:declared]
        return self._buffers[index]

    def _uri_bytes(self, uri: str, what: str) -> bytes:
        if uri.startswith("data:"):
            head, sep, payload = uri.partition(",")
            if not sep or not head.endswith(";base64"):
                raise ImportRefused(FEATURE_UNSUPPORTED, f"{what}: only base64 data URIs are read")
            try:
                return base64.b64decode(payload, validate=True)
            except binascii.Error as e:
                raise ImportRefused(
                    FILE_MALFORMED, f"{what}: its data URI is not base64 ({e})"
                ) from None
        if "://" in uri:
            raise ImportRefused(
                FEATURE_UNSUPPORTED,
                f"{what} is at {uri}: download it next to the .gltf (or export a .glb) first",
            )
        folder = self.path.parent.resolve()
        target = (folder / unquote(uri)).resolve()
        if not target.is_relative_to(folder):  # never read files from elsewhere on the host
            raise ImportRefused(
                FILE_MALFORMED, f"{what}: {uri!r} is outside the glTF's folder; keep it beside"
            )
        try:
            if target.stat().st_size > MAX_FILE_BYTES:
                raise ImportRefused(FILE_UNREADABLE, f"{what}: {uri!r} is over 1 GiB")
            return target.read_bytes()
        except OSError as e:
            raise ImportRefused(
                FILE_UNREADABLE, f"{what}: can't read {uri!r} next to {self.path.name} ({e})"
            ) from None

    def image_bytes(self, index: int) -> tuple[bytes, str] | None:
        """An image's bytes and mime type ("image/png"/"image/jpeg"), or None if neither."""
        image = item(self.doc.images, index, "image")
        if image.uri is not None:
            data = self._uri_bytes(image.uri, f"image {index}")
        elif image.bufferView is not None:
            data = self.view_bytes(image.bufferView)
        else:
            return None
        if data.startswith(b"\x89PNG"):
            return data, "image/png"
        if data.startswith(b"\xff\xd8\xff"):
            return data, "image/jpeg"
        return None

    def view_bytes(self, index: int) -> bytes:
        view = item(self.doc.bufferViews, index, "bufferView")
        data = self.buffer(_int(view.buffer, f"bufferView {index}.buffer"))
        start = _int(view.byteOffset or 0, f"bufferView {index}.byteOffset")
        length = _int(view.byteLength, f"bufferView {index}.byteLength")
        if start < 0 or length < 0 or start + length > len(data):
            raise ImportRefused(
                FILE_MALFORMED,
                f"bufferView {index} (bytes {start}..{start + length}) is outside buffer "
                f"{view.buffer} ({len(data)} bytes)",
            )
        return data[start : start + length]

    # -- accessors ------------------------------------------------------------------------

    def accessor(self, index: int, what: str) -> NDArray[Any]:
        """Accessor ``index`` as a (count, width) array of its component type (a copy).

        Normalised integer accessors are returned as float64 in [0, 1] / [-1, 1].
        ``what`` names the use in messages ("mesh 0 POSITION").
        """
        acc = item(self.doc.accessors, index, "accessor")
        label = f"accessor {index} ({what})"
        if acc.sparse is not None:
            raise ImportRefused(
                FEATURE_UNSUPPORTED,
                f"{label} is sparse; re-export without sparse accessors "
                "(e.g. Blender: disable 'use sparse accessors')",
            )
        dtype = COMPONENTS.get(acc.componentType)
        width = WIDTH.get(acc.type)
        if dtype is None or width is None:
            raise ImportRefused(
                FILE_MALFORMED,
                f"{label} has an unknown componentType {acc.componentType} or type {acc.type}",
            )
        if acc.type in ("MAT2", "MAT3") and dtype.itemsize < 4:
            raise ImportRefused(FEATURE_UNSUPPORTED, f"{label}: padded small-int matrices")
        count = _int(acc.count, f"{label}.count")
        if count < 1:
            raise ImportRefused(FILE_MALFORMED, f"{label} has count {count}")
        if acc.bufferView is None:  # the spec: all zeros
            if count * width * dtype.itemsize > MAX_FILE_BYTES:
                raise ImportRefused(FILE_MALFORMED, f"{label}: count {count} is implausible")
            out: NDArray[Any] = np.zeros((count, width), dtype=dtype)
        else:
            out = self._read_view(acc, index, label, dtype, width, count)
        if acc.normalized and dtype.kind in "iu":
            scale = float(np.iinfo(dtype).max)
            return np.maximum(out.astype(np.float64) / scale, -1.0)
        return out

    def _read_view(
        self, acc: Any, index: int, label: str, dtype: np.dtype[Any], width: int, count: int
    ) -> NDArray[Any]:
        view_index = _int(acc.bufferView, f"{label}.bufferView")
        view = item(self.doc.bufferViews, view_index, "bufferView")
        data = self.view_bytes(view_index)
        element = dtype.itemsize * width
        stride = view.byteStride or element
        if not isinstance(stride, int) or stride < element:
            raise ImportRefused(
                FILE_MALFORMED, f"bufferView {view_index}'s byteStride {stride} < element size"
            )
        offset = _int(acc.byteOffset or 0, f"{label}.byteOffset")
        end = offset + stride * (count - 1) + element
        if offset < 0 or end > len(data):
            raise ImportRefused(
                FILE_MALFORMED,
                f"{label} reads bytes {offset}..{end} of bufferView {view_index}, which has "
                f"{len(data)}: the accessor is out of bounds",
            )
        arr = np.ndarray(
            shape=(count, width), dtype=dtype, buffer=data, offset=offset,
            strides=(stride, dtype.itemsize),
        )  # fmt: skip
        return np.array(arr)


def load(path: Path) -> GltfFile:
    """Read a .gltf or .glb file (decided by its content) or refuse it."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportRefused(FILE_UNREADABLE, f"{path.name} is over 1 GiB")
        data = path.read_bytes()
    except OSError as e:
        raise ImportRefused(FILE_UNREADABLE, f"can't read {path}: {e.strerror}") from None
    other = sniff(data)
    if other:
        raise ImportRefused(FORMAT_UNSUPPORTED, f"{path.name} is {other}, not a glTF file")
    if data.startswith(GLB_MAGIC):
        json_bytes, binary = _glb_chunks(data, path.name)
    else:
        json_bytes, binary = data, None
    try:
        text = json_bytes.decode("utf-8-sig")
        obj = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ImportRefused(
            FILE_UNREADABLE, f"{path.name} is not glTF: its JSON does not parse ({e})"
        ) from None
    version = str((obj.get("asset") or {}).get("version", "")) if isinstance(obj, dict) else ""
    if not version.startswith("2."):
        raise ImportRefused(
            FORMAT_UNSUPPORTED,
            f"{path.name} is not glTF 2.0 (asset.version is {version or 'missing'!r})",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = GLTF2.gltf_from_json(text)
    except Exception as e:  # pygltflib/dataclasses-json raise many types on bad schemas
        raise ImportRefused(
            FILE_MALFORMED, f"{path.name}: its glTF JSON does not follow the schema ({e})"
        ) from None
    return GltfFile(path, doc, binary)


def _glb_chunks(data: bytes, name: str) -> tuple[bytes, bytes | None]:
    """The JSON and BIN chunks of a GLB, after checking every length against the file."""
    if len(data) < 20:
        raise ImportRefused(FILE_UNREADABLE, f"{name} is truncated: no room for a GLB header")
    _magic, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise ImportRefused(FORMAT_UNSUPPORTED, f"{name} is GLB version {version}, not 2")
    if length > len(data):
        raise ImportRefused(
            FILE_UNREADABLE,
            f"{name} is truncated: its header says {length} bytes but the file has {len(data)}",
        )
    chunks: list[tuple[int, bytes]] = []
    pos = 12
    while pos < length:
        if pos + 8 > length:
            raise ImportRefused(FILE_UNREADABLE, f"{name} is truncated inside a chunk header")
        size, kind = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + size > length:
            raise ImportRefused(
                FILE_UNREADABLE,
                f"{name} is truncated: a chunk of {size} bytes runs past the end of the file",
            )
        chunks.append((kind, data[pos : pos + size]))
        pos += size
    if not chunks or chunks[0][0] != _CHUNK_JSON:
        raise ImportRefused(FILE_MALFORMED, f"{name}: the first GLB chunk must be JSON")
    binary = next((c for k, c in chunks[1:] if k == _CHUNK_BIN), None)
    return chunks[0][1], binary


def item(items: list[Any] | None, index: Any, what: str) -> Any:
    """``items[index]``, refusing a missing list, a bad index or a non-integer."""
    i = _int(index, f"{what} index")
    if not items or not 0 <= i < len(items):
        raise ImportRefused(
            FILE_MALFORMED, f"{what} {i} does not exist (the file has {len(items or [])})"
        )
    return items[i]


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ImportRefused(FILE_MALFORMED, f"{what} must be an integer, not {value!r}")
    return value
