#!/usr/bin/python3.11
"""Writes tests/fixtures/sentencepiece: small SentencePiece BPE models trained by SentencePiece itself
and the ids it encodes test strings to, for the tokenizer.model reader (src/io/sentencepiece).

  /usr/bin/python3.11 tests/oracle/make_sentencepiece.py   (needs Debian's python3-sentencepiece)

  llama/tokenizer.model    Llama's trainer settings (BPE, byte fallback, digits split, identity
                           normalization, whitespace kept, <unk> <s> </s> at 0 1 2), vocabulary 600
  collapse/tokenizer.model the same with SentencePiece's default whitespace handling (runs of spaces
                           collapsed, ends stripped), which the reader must refuse
  unigram/tokenizer.model  a Unigram model (T5-style), which the reader must refuse too
  expected.json            [text, ids, decoded] of every test string for the llama model:
                           sp.encode(text) without special tokens, sp.decode(ids)
"""

import io
import json
import os
import random
import shutil

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "sentencepiece")


def corpus():
    """Training text: the default model's dev requests (prompts, targets, rephrasings), and a few
    lines of accents, CJK and digits."""
    lines = []
    with open(os.path.join(ROOT, "data", "requests", "base-dev.json"), encoding="utf-8") as f:
        for r in json.load(f):
            lines.append(r["prompt"] + " " + r["target_new"])
            lines += [p + " " + r["ground_truth"] for p in r["rephrase_prompt"]]
            for probes in list(r["portability"].values()) + list(r["locality"].values()):
                lines += [p["prompt"] + " " + p["ground_truth"] for p in probes]
    lines += ["Café au lait, naïve façade — 東京 is the capital of 日本.", "Ünïcödé 123 4567 89"]
    return lines


def train(name, **extra):
    settings = dict(
        model_type="bpe",
        vocab_size=600,
        character_coverage=0.9995,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        seed_sentencepiece_size=100000,
    )
    settings.update(extra)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus()), model_writer=model, **settings)
    os.makedirs(os.path.join(OUT, name))
    with open(os.path.join(OUT, name, "tokenizer.model"), "wb") as f:
        f.write(model.getvalue())
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def test_strings():
    fixed = [
        "The capital of France is Paris",
        " leading space",
        "trailing space ",
        "two  spaces   three",
        "   ",
        "",
        "tab\there\nnew line",
        "digits 1234567890 and 3.14",
        "Café au lait, naïve façade",
        "東京 is the capital of 日本",
        "emoji 🙂 and ☃",
        "▁ literal metaspace",
        "<s> and </s> and <unk> as text",
        "ALL CAPS and MiXeD",
    ]
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEF  .,;:!?'\"-0123456789éüñç東京日本🙂\t\n▁"
    for _ in range(200):
        n = rng.randint(0, 40)
        fixed.append("".join(rng.choice(alphabet) for _ in range(n)))
    return fixed


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    sp = train("llama")
    expected = [[text, sp.encode(text), sp.decode(sp.encode(text))] for text in test_strings()]
    train("collapse", remove_extra_whitespaces=True)
    train("unigram", model_type="unigram", vocab_size=400)
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
