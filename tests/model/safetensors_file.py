"""Writes a safetensors file from raw tensor bytes, as the reference writer
lays it out (sorted names, header padded to 8 bytes); shared by the test
scripts here so each has one writer, not its own copy."""
import json
import struct


def write_safetensors_bytes(path, entries, metadata=None):
    """entries: {name: (dtype, shape, raw bytes)}. Returns the data section's size."""
    header, chunks, offset = ({"__metadata__": metadata} if metadata else {}), [], 0
    for name in sorted(entries):
        dtype, shape, raw = entries[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    return offset
