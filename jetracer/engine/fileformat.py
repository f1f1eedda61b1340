"""The engine file: a short JSON header that says what the file is, then the backend's payload.

Layout: ``MAGIC`` (16 bytes), header length (4 bytes, little endian), UTF-8 JSON header, payload.
The header names the backend, the precision, the input the folded network expects, the versions it
was built with (a TensorRT engine only runs on the TensorRT and GPU that built it) and the
payload's length and SHA-256, so a truncated or corrupted file is caught before any backend parses
it, with one line saying to rebuild, instead of a protobuf or pickle traceback.
"""

import hashlib
import json
import struct
from pathlib import Path

from ..errors import EngineError
from ..util.atomic import atomic_write_bytes

__all__ = ["MAGIC", "FORMAT", "VERSION", "write_engine_file", "read_engine_file", "read_engine_header",
           "is_engine_file", "encode_engine", "decode_engine"]

MAGIC = b"JETRACER-ENGINE\x00"
FORMAT = "jetracer-engine"
VERSION = 1
_LEN = struct.Struct("<I")
_MAX_HEADER = 1 << 20


def _rebuild_hint(path):
    return "rebuild it with `jetracer optimize MODEL.pth --out %s`" % path


def encode_engine(header, payload):
    header = dict(header, format=FORMAT, version=VERSION,
                  payload={"bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()})
    blob = json.dumps(header, sort_keys=True).encode("utf-8")
    return MAGIC + _LEN.pack(len(blob)) + blob + payload


def write_engine_file(path, header, payload):
    atomic_write_bytes(path, encode_engine(header, payload))


def is_engine_file(path):
    with open(str(path), "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _parse_header(data, path):
    fixed = len(MAGIC) + _LEN.size
    if len(data) < fixed or data[:len(MAGIC)] != MAGIC:
        raise EngineError("%s is not a jetracer engine file (or is truncated): %s" % (path, _rebuild_hint(path)))
    (size,) = _LEN.unpack_from(data, len(MAGIC))
    if size > _MAX_HEADER:
        raise EngineError("%s has a corrupt header (length %d): %s" % (path, size, _rebuild_hint(path)))
    if len(data) < fixed + size:
        raise EngineError("%s is truncated (header cut short): %s" % (path, _rebuild_hint(path)))
    try:
        header = json.loads(data[fixed:fixed + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise EngineError("%s has a corrupt header: %s" % (path, _rebuild_hint(path))) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise EngineError("%s has a corrupt header: %s" % (path, _rebuild_hint(path)))
    version = header.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise EngineError("%s has a corrupt header (version %r): %s" % (path, version, _rebuild_hint(path)))
    if version > VERSION:
        raise EngineError("%s is engine format %s, newer than this jetracer reads (%d): upgrade jetracer or %s"
                          % (path, header.get("version"), VERSION, _rebuild_hint(path)))
    return header, fixed + size


def decode_engine(data, path="<engine>"):
    """(header, payload) from the bytes of an engine file; one-line EngineError when damaged."""
    header, start = _parse_header(data, path)
    payload = data[start:]
    expected = header.get("payload") or {}
    if len(payload) != expected.get("bytes"):
        raise EngineError("%s is truncated (%d of %s payload bytes): %s"
                          % (path, len(payload), expected.get("bytes"), _rebuild_hint(path)))
    if hashlib.sha256(payload).hexdigest() != expected.get("sha256"):
        raise EngineError("%s is corrupt (payload checksum mismatch): %s" % (path, _rebuild_hint(path)))
    return header, payload


def read_engine_file(path):
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EngineError("cannot read engine file %s: %s" % (path, exc.strerror or exc)) from None
    return decode_engine(data, path)


def read_engine_header(path):
    """Just the header (cheap: reads a few kilobytes), e.g. to show what an engine is."""
    path = Path(path)
    with open(str(path), "rb") as f:
        head = f.read(len(MAGIC) + _LEN.size)
        if len(head) == len(MAGIC) + _LEN.size and head[:len(MAGIC)] == MAGIC:
            (size,) = _LEN.unpack_from(head, len(MAGIC))
            head += f.read(min(size, _MAX_HEADER))
    return _parse_header(head, path)[0]
