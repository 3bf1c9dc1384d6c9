#!/usr/bin/env python3
"""Independent GPT-2 byte-level BPE reference for the golden ids in tests/core/test_bpe_tokenizer.cpp.

Written from the GPT-2 paper's encoder.py algorithm (bytes_to_unicode, the GPT-2 regex, lowest-rank-first
merges) plus the Hugging Face rule that added tokens are split out of the text first (leftmost, then longest).
Usage: bpe_reference.py tokenizer.json 'text' ...   (prints one JSON id list per text)
"""
import json
import sys

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Gpt2Bpe:
    def __init__(self, path):
        j = json.load(open(path, encoding="utf-8"))
        self.vocab = j["model"]["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in j["model"]["merges"]]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.added = {t["content"]: t["id"] for t in j["added_tokens"]}
        self.byte_map = bytes_to_unicode()
        self.pat = regex.compile(GPT2_PATTERN)

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), float("inf")), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == float("inf"):
                break
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        return [self.vocab[p] for p in parts]

    def encode_plain(self, text):
        ids = []
        for m in self.pat.findall(text):
            ids += self.bpe("".join(self.byte_map[b] for b in m.encode("utf-8")))
        return ids

    def encode(self, text):
        ids, pos, start = [], 0, 0
        by_len = sorted(self.added, key=len, reverse=True)
        while pos < len(text):
            hit = next((t for t in by_len if text.startswith(t, pos)), None)
            if hit is None:
                pos += 1
                continue
            ids += self.encode_plain(text[start:pos]) + [self.added[hit]]
            pos += len(hit)
            start = pos
        return ids + self.encode_plain(text[start:])


if __name__ == "__main__":
    tok = Gpt2Bpe(sys.argv[1])
    for text in sys.argv[2:]:
        print(json.dumps(text, ensure_ascii=False), json.dumps(tok.encode(text)))
