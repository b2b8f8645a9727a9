"""Training and offline evaluation: interaction matrices, split protocols, metrics, reports.

Example (the ML-100k benchmark protocol (a), with any model factory)::

    from tastemaker.datasets import load_ml100k
    from tastemaker.training import (ML100K_ANCHORS, build_interactions, evaluate_families,
                                     write_report)
    data = build_interactions(load_ml100k().events, binary=True, rating_neutral=0.0)
    rows = evaluate_families({"ease": EASE}, data, protocol="random", seeds=[0, 1, 2])
    write_report("reports", rows, anchors=ML100K_ANCHORS)
"""

from tastemaker.training.evaluate import (
    TuneResult,
    evaluate_families,
    evaluate_model,
    evaluate_top_k,
    recommend_top_k,
    tune,
)
from tastemaker.training.interactions import (
    DEFAULT_WEIGHTS,
    InteractionData,
    build_interactions,
)
from tastemaker.training.report import (
    ML100K_ANCHORS,
    bar_chart_svg,
    format_table,
    line_plot_svg,
    print_table,
    write_html,
    write_json,
    write_report,
)
from tastemaker.training.splits import (
    leave_last_out,
    random_split,
    split,
    temporal_split,
    validation_split,
)

__all__ = [
    "DEFAULT_WEIGHTS", "ML100K_ANCHORS", "InteractionData", "TuneResult", "bar_chart_svg",
    "build_interactions", "evaluate_families", "evaluate_model", "evaluate_top_k",
    "format_table", "leave_last_out", "line_plot_svg", "print_table", "random_split",
    "recommend_top_k", "split", "temporal_split", "tune", "validation_split",
    "write_html", "write_json", "write_report",
]
