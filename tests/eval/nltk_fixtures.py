# Regenerates tests/eval/nltk_fixtures.json: nltk 3.8's word tokens and EasyEdit's n-gram entropy
# for hand-written and random texts. Offline oracle only (CI reads the JSON, never runs this).
#   apt-get install -y python3-nltk && /usr/bin/python3.11 tests/eval/nltk_fixtures.py
# Punkt is used untrained (PunktSentenceTokenizer()), as src/eval/words.ts documents: the trained
# English model is a separate nltk data download.
import json, os, random
import numpy as np
import nltk
from nltk.tokenize import NLTKWordTokenizer, PunktSentenceTokenizer

_words, _sents = NLTKWordTokenizer(), PunktSentenceTokenizer()


def word_tokenize(s):
    return [w for sent in _sents.tokenize(s) for w in _words.tokenize(sent)]


def entropy(sentence, ns=(2, 3), weights=(2 / 3, 4 / 3)):
    # EasyEdit evaluate_utils.compute_n_gram_entropy with word_tokenize as above.
    toks = word_tokenize(sentence)
    el = []
    for n in ns:
        fd = nltk.FreqDist(nltk.ngrams(toks, n))
        freqs = np.array([f for _, f in fd.items()], dtype=float)
        freqs = freqs / freqs.sum()
        el.append(np.sum(-freqs * np.log(freqs) / np.log(2)))
    return float(np.mean(np.array(el) * np.array(weights)))


HAND = [
    "The capital of France is Paris. Paris is a city in France, and it is the capital of France.",
    'He said "hi". I don\'t know, Mr. Smith! It costs $3.50 (or 1,000 yen)... Really?',
    "The Eiffel Tower is located in Rome. It was built in 1889 by Gustave Eiffel's company; it's 330 m tall.",
    "Rome Rome Rome Rome Rome Rome Rome Rome Rome Rome",
    'The capital of France is Rome.\n\nThe city is known for its art, food and history. You\'ll love it -- they\'ve said so: "best city".',
    "She can't go [today] {maybe} <tomorrow>; we'd see @home #1 at 50% & more* stuff?! Yes.",
    "'Quoted' text, isn't it? 'Tis the season. O'Neil's dog's bone. 'Twas cannot gonna wanna go, gimme lemme gotta more'n d'ye.",
    "Numbers: 3:45, 1,234.56 and 7.5% of U.S. citizens e.g. voters.",
    "Ünïcödé wörds — and en–dash ‘curly’ “quotes” … ok.",
    "a b a b a b c",
    'J. Smith went home. He said "stop." Then he left! (Really.) Yes... no. v. 2 is out.',
    "end?! Next one. «French» quotes, ``tex'' quotes and 'a single.' Done",
    "the the. the the. the the",
    "",
    "word",
    "two words",
    "Yes... No way. Yes... no way.",
    "In 1889. The tower. In 1889. the tower. Got 3.5. ok",
    "He left! she said? Yes.) ok",
    "A. 2 B. (C) D. É. x",
    'I said "stop." then went. Said "Go!" Then',
    "Dr. Who is. Mr. smith",
    "a.b. c. d",
    "It's 'a' test.\nNew line' here. x'\ny",
    "The U.S. is big. The U.S.\nIt is.",
]


def random_word_texts(rng, count):
    words = ["the", "The", "capital", "of", "France", "is", "Rome", "Paris", "city", "J.", "U.S.",
             "Mr.", "e.g.", "1889.", "3.5", "1,000", "don't", "can't", "it's", "O'Neil's", "'Tis",
             "cannot", "gonna", "wanna", "(yes)", "[no]", "{x}", "<y>", '"quoted"', "'single'",
             "“curly”", "‘c’", "«f»", "--", "-", "...", "…", "?", "!", "?!", ",", ";", ":", "3:45",
             "$5", "50%", "&", "@home", "#1", "*", "a", "b", "c", "é", "Ünï", "ok.", "end.",
             'stop."', 'Go!"', "Yes.)", "x'", "''", "``", "A.", "b.", "word", "Word", "WORD",
             "well-known", "5.", "x.y.", "9."]
    seps = [" "] * 12 + ["\n", "  ", "\t", "\n\n"]
    out = []
    for _ in range(count):
        n = rng.randint(0, 30)
        t = ""
        for j in range(n):
            w = rng.choice(words)
            if rng.random() < 0.15:
                w += rng.choice([".", ",", "!", "?", "'s", "n't", "'ll", ")", '"', "'"])
            t += w + (rng.choice(seps) if j < n - 1 else "")
        out.append(t)
    return out


def random_char_texts(rng, count):
    alphabet = list("aAbBzZ09 .,;:!?'\"`()[]{}<>-_*@#$%&«»“”‘’„…\n\t") + [
        "é", "É", "ß", "ǅ", "²", "Ⅻ", "日", "e\u0301", "  ", "..", "--", "n't", "'s", "can", "not",
        "wan", "na", "'t", "is", "J.", "1889.", "3.5"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(count)]


rng = random.Random(2024)
texts = HAND + random_word_texts(rng, 120) + random_char_texts(rng, 200)
# Tokens never contain whitespace (the tokenizer splits on it): store them space-joined.
out = [{"text": s, "tokens": " ".join(word_tokenize(s)), "entropy": entropy(s)} for s in texts]
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nltk_fixtures.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump({"nltk": nltk.__version__, "cases": out}, f, ensure_ascii=False, indent=2)
print(f"wrote {len(out)} cases to {path}")
