"""Offline evaluation of models and of the served pipeline: split protocols, metrics,
model evaluation and tuning, per-placement list quality, reports.

It sits above serving (it asks the served pipeline for lists) and below training (the train
job measures the version it trains with the same protocol).

Example (the ML-100k benchmark protocol (a), with any model factory)::

    from tastemaker.datasets import load_ml100k
    from tastemaker.datasets.interactions import build_interactions
    from tastemaker.evaluation.evaluate import evaluate_families
    from tastemaker.evaluation.report import ML100K_ANCHORS, write_report
    data = build_interactions(load_ml100k().events, binary=True, rating_neutral=0.0)
    rows = evaluate_families({"ease": EASE}, data, protocol="random", seeds=[0, 1, 2])
    write_report("reports", rows, anchors=ML100K_ANCHORS)
"""
