"""Readers for the game archives that hold some Debian packages' sounds: zip (also .pk3 / .wz), Qt resource
files (.rcc, GCompris) and OpenTTD's sound bank (.cat, OpenSFX). Each yields (member path, bytes).

Formats, as their writers define them:
- Qt `.rcc` (qtbase src/tools/rcc/rcc.cpp, src/corelib/io/qresource.cpp): "qres", big-endian version, tree,
  data and names offsets (v3 adds a flags word). Tree nodes are 14 bytes (v1) or 22 (v2+, a modification
  time): name offset, flags (1 zlib, 2 directory, 4 zstd), then children count + first child index for a
  directory, or country, language and data offset for a file. A name is a u16 length, a u32 hash and UTF-16BE
  text; a data entry is a u32 size and the bytes (zlib ones start with qCompress' u32 uncompressed size).
- OpenTTD `.cat` (openttd src/sound.cpp): a table of (u32 offset, u32 size) little-endian pairs whose first
  offset (high bit masked) is 8 x the count; each entry is a u8 name length, the name (OpenSFX writes the
  sound's title, author and licence there), then a RIFF WAV file.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

Want = Callable[[str], bool]


def zip_members(path: Path, want: Want) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith("/") and want(name):
                yield name, zf.read(name)


def rcc_members(path: Path, want: Want) -> Iterator[tuple[str, bytes]]:
    """Every file of a Qt resource file, as (path inside the resource tree, uncompressed bytes)."""
    data = path.read_bytes()
    if data[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource file")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset:names + offset + 2])
        start = names + offset + 6
        return data[start:start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        base = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[base:base + 6])
        name = name_at(name_offset) if index else ""
        full = f"{prefix}/{name}" if prefix else name
        if flags & 2:
            count, first = struct.unpack(">II", data[base + 6:base + 14])
            for child in range(first, first + count):
                yield from walk(child, full)
            return
        if not want(full):
            return
        (offset,) = struct.unpack(">I", data[base + 10:base + 14])
        (size,) = struct.unpack(">I", data[payload + offset:payload + offset + 4])
        blob = data[payload + offset + 4:payload + offset + 4 + size]
        if flags & 1:
            blob = zlib.decompress(blob[4:])
        elif flags & 4:
            import zstandard

            blob = zstandard.ZstdDecompressor().decompress(blob)
        yield full, blob

    yield from walk(0, "")


def opensfx_members(path: Path, want: Want) -> Iterator[tuple[str, bytes]]:
    """Every sound of an OpenTTD sound bank, as ("NNN <title>.wav", WAV bytes); the title is the quoted part of
    the entry's name (OpenSFX: '"Good Year". By ... License: ...')."""
    data = path.read_bytes()
    count = (struct.unpack("<I", data[:4])[0] & 0x7FFFFFFF) // 8
    for i in range(count):
        offset, size = struct.unpack("<II", data[8 * i:8 * i + 8])
        offset &= 0x7FFFFFFF
        length = data[offset]
        raw = data[offset + 1:offset + 1 + length].rstrip(b"\0").decode("latin-1")
        title = raw.split('"')[1] if raw.count('"') >= 2 else raw
        title = "".join(c if c.isalnum() or c in " -" else " " for c in title).strip()
        body = data[offset + 1 + length:offset + size]
        name = f"{i:03d} {title}.wav"
        if body[:4] == b"RIFF" and want(name):
            yield name, body


READERS = {"zip": zip_members, "rcc": rcc_members, "cat": opensfx_members}
