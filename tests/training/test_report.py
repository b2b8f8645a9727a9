"""Reports: terminal table, JSON and a self-contained HTML page with inline SVG."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from tastemaker.training.report import (
    ML100K_ANCHORS,
    bar_chart_svg,
    format_table,
    line_plot_svg,
    write_report,
)

ROWS = [
    {"family": "ease", "protocol": "random", "k": 10, "ndcg@10": 0.51, "precision@10": 0.41,
     "diversity@10": float("nan"), "fit_s": 0.3},
    {"family": "pop <&>", "protocol": "random", "k": 10, "ndcg@10": 0.254, "precision@10": 0.23},
    {"family": "ease", "protocol": "temporal", "k": 10, "ndcg@10": 0.33, "precision@10": 0.3},
]


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, flags=re.S)


def test_table_has_rows_and_anchors():
    text = format_table(ROWS, anchors={"BiVAE": 0.475})
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["family", "protocol", "ndcg@10"]
    assert "0.5100" in text and "nan" in text
    assert any(line.startswith("BiVAE") and "published" in line and "0.4750" in line
               for line in lines)
    assert len(lines) == 2 + len(ROWS) + 1


def test_write_report_files(tmp_path, capsys):
    curve = line_plot_svg({"mmr": ([0.1, 0.2, 0.3], [0.5, 0.48, 0.44])}, "trade-off",
                          "diversity@10", "ndcg@10", annotate={"mmr": ["0", "0.5", "1"]})
    paths = write_report(tmp_path / "out", ROWS, anchors=ML100K_ANCHORS, plots=[curve])
    assert "ease" in capsys.readouterr().out  # the table went to the terminal
    payload = json.loads(paths["json"].read_text())
    assert payload["rows"][0]["diversity@10"] is None  # NaN -> null: strict JSON
    assert payload["anchors"]["BiVAE"] == 0.475
    page = paths["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "<script" not in page and "<link" not in page and "src=" not in page  # self-contained
    assert "pop &lt;&amp;&gt;" in page  # names are escaped
    charts = svgs(page)
    assert len(charts) == 3  # one bar chart per protocol + the curve
    for svg in charts:
        ET.fromstring(svg)  # each plot is well-formed XML
    # anchors only on protocol (a)'s chart: comparable only under their own protocol
    assert "BiVAE (published)" in charts[0] and "BiVAE" not in charts[1]
    assert charts[2].count("<polyline") == 1


def test_bar_chart_sorted_best_first_and_reference_line():
    svg = bar_chart_svg({"ours": 0.5, "nan": float("nan")}, {"BiVAE": 0.475, "SAR": 0.382})
    root = ET.fromstring(svg)
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert labels.index("ours") < labels.index("BiVAE (published)") < labels.index("SAR (published)")
    assert "nan" not in labels and "best published 0.475" in labels
    assert len(list(root.iter("{http://www.w3.org/2000/svg}line"))) == 1


def test_line_plot_handles_flat_and_empty_series():
    ET.fromstring(line_plot_svg({"flat": ([1.0, 1.0], [2.0, 2.0])}))
    ET.fromstring(line_plot_svg({}))
