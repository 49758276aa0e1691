#!/usr/bin/env python3
"""Writes the malformed-GGUF regression files of this folder (python3 make_malformed.py).

Each case starts from one small valid GGUF v3 image (two metadata keys, one f32 tensor and
one q8_0 tensor) and breaks one thing. expected.tsv lists, per file, the text that the
loader's error must contain (the field it names). Files found by fuzzing are added as
fuzz-*.gguf with the field their error names."""
import struct

def s(x):
    b = x.encode()
    return struct.pack('<Q', len(b)) + b

def kv_str(k, v):
    return s(k) + struct.pack('<I', 8) + s(v)

def kv_u32(k, v):
    return s(k) + struct.pack('<II', 4, v)

def tinfo(name, dims, typ, off):
    return s(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', d) for d in dims) + struct.pack('<IQ', typ, off)

def image(version=3, n_tensors=None, n_kv=None, kvs=None, infos=None, data=None, align=32, magic=b'GGUF'):
    kvs = kvs if kvs is not None else [kv_str('general.architecture', 'llama'), kv_u32('general.alignment', align)]
    infos = infos if infos is not None else [tinfo('a', [8], 0, 0), tinfo('b', [32, 2], 8, 32)]
    head = magic + struct.pack('<IQQ', version, len(infos) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    body = head + b''.join(kvs) + b''.join(infos)
    pad = (-len(body)) % 32
    data = data if data is not None else bytes(32) + bytes(2 * 34)
    return body + bytes(pad) + data

cases = {
    'bad-magic.gguf': (image(magic=b'GGML'), 'magic'),
    'version-1.gguf': (image(version=1), 'version'),
    'version-huge.gguf': (image(version=0x03000000), 'version'),
    'truncated-header.gguf': (image()[:10], 'tensor_count'),
    'tensor-count-huge.gguf': (image(n_tensors=1 << 60), 'tensor_count'),
    'kv-count-huge.gguf': (image(n_kv=1 << 62), 'metadata_kv_count'),
    'key-length-huge.gguf': (image(kvs=[struct.pack('<Q', 1 << 63) + b'abc']), 'metadata key #0'),
    'string-length-past-end.gguf': (image(kvs=[s('k') + struct.pack('<IQ', 8, 1 << 40) + b'x']), "'k'"),
    'bad-value-type.gguf': (image(kvs=[s('k') + struct.pack('<I', 99) + bytes(8)]), "'k'"),
    'nested-array.gguf': (image(kvs=[s('k') + struct.pack('<IIQ', 9, 9, 1) + bytes(16)]), "'k'"),
    'array-count-huge.gguf': (image(kvs=[s('k') + struct.pack('<IIQ', 9, 6, 1 << 61) + bytes(8)]), 'array count'),
    'string-array-count-huge.gguf': (image(kvs=[s('k') + struct.pack('<IIQ', 9, 8, 1 << 59)]), 'array count'),
    'bad-bool.gguf': (image(kvs=[s('k') + struct.pack('<IB', 7, 7)]), "'k'"),
    'duplicate-key.gguf': (image(kvs=[kv_str('k', 'a'), kv_str('k', 'b')]), "'k'"),
    'alignment-not-power-of-two.gguf': (image(kvs=[kv_u32('general.alignment', 24)]), 'general.alignment'),
    'alignment-zero.gguf': (image(kvs=[kv_u32('general.alignment', 0)]), 'general.alignment'),
    'n-dims-zero.gguf': (image(infos=[tinfo('a', [], 0, 0)]), 'n_dims'),
    'n-dims-five.gguf': (image(infos=[tinfo('a', [1, 1, 1, 1, 1], 0, 0)]), 'n_dims'),
    'dim-zero.gguf': (image(infos=[tinfo('a', [8, 0], 0, 0)]), 'dims[1]'),
    'dims-overflow.gguf': (image(infos=[tinfo('a', [1 << 32, 1 << 32], 0, 0)]), 'dims[1]'),
    'unknown-tensor-type.gguf': (image(infos=[tinfo('a', [8], 77, 0)]), 'type'),
    'row-not-block-multiple.gguf': (image(infos=[tinfo('a', [31], 8, 0)]), 'dims[0]'),
    'offset-misaligned.gguf': (image(infos=[tinfo('a', [8], 0, 4)]), 'offset'),
    'tensor-past-end.gguf': (image(infos=[tinfo('a', [1024], 0, 0)]), 'offset'),
    'offset-huge.gguf': (image(infos=[tinfo('a', [8], 0, (1 << 64) - 32)]), 'offset'),
    'duplicate-tensor.gguf': (image(infos=[tinfo('a', [8], 0, 0), tinfo('a', [8], 0, 32)]), "tensor 'a'"),
    'no-data-section.gguf': (image(data=b'')[:-1], 'offset'),
    'empty.gguf': (b'', 'magic'),
}

with open('expected.tsv', 'w') as tsv:
    tsv.write('# file\terror must contain (written by make_malformed.py; fuzz-* added by hand)\n')
    for name, (blob, field) in sorted(cases.items()):
        with open(name, 'wb') as f:
            f.write(blob)
        tsv.write(f'{name}\t{field}\n')
