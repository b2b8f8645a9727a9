"""Reports: terminal table, JSON and a self-contained HTML page with inline SVG."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from tastemaker.datasets.interactions import build_interactions
from tastemaker.evaluation.report import (
    ANCHOR_SOURCES,
    ML100K_ANCHORS,
    bar_chart_svg,
    format_table,
    line_plot_svg,
    write_report,
)
from tastemaker.evaluation.report_context import evaluation_context

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


def _context():
    """A small, fully known data set: 6 users x 8 items, each user with 4 interactions at distinct times."""
    users, items, times = [], [], []
    for u in range(6):
        for j in range(4):
            users.append(f"u{u}")
            items.append(f"i{(u + j) % 8}")
            times.append(1_700_000_000.0 + 10 * u + j)
    data = build_interactions({"user_id": users, "item_id": items, "timestamp": times}, binary=True)
    return evaluation_context(data, "toy set", ["random", "temporal", "leave_last_out"], [0, 1],
                              command=["tastemaker", "evaluate", "--families", "ease,pop", "--seeds", "0,1"])


def test_context_counts_the_data_and_each_split():
    context = _context()
    assert (context["users"], context["items"], context["interactions"]) == (6, 8, 24)
    assert context["seeds"] == [0, 1]
    # per-user random 75/25: each user keeps floor(0.75 * 4) = 3 in train, 1 in test
    assert context["splits"]["random"] == {"train": 18, "test": 6, "test_users": 6}
    # temporal: the latest 20% of the 24 cells (ceil or floor, ties to test) are test
    assert context["splits"]["temporal"]["train"] + context["splits"]["temporal"]["test"] == 24
    assert 4 <= context["splits"]["temporal"]["test"] <= 5
    assert context["splits"]["leave_last_out"] == {"train": 18, "test": 6, "test_users": 6}
    assert context["command"] == "tastemaker evaluate --families ease,pop --seeds 0,1"


def test_the_page_says_what_was_measured_and_how_to_repeat_it(tmp_path):
    page = write_report(tmp_path, ROWS, anchors=ML100K_ANCHORS, echo=False, context=_context())["html"].read_text()
    assert "<title>Tastemaker offline evaluation: toy set</title>" in page
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", page)  # when
    assert "6 users, 8 items, 24 interactions" in page
    assert "0, 1 (every figure is the mean over them)" in page
    assert "18 train / 6 test interactions; 6 users evaluated" in page
    assert "<code>tastemaker evaluate --families ease,pop --seeds 0,1</code>" in page
    # every protocol is explained where its table is
    assert "Protocol (a) random, per user</h2>" in page and "75% to train, 25% to test" in page
    assert "Protocol (b) temporal, global cut</h2>" in page and "latest 20%" in page
    assert "ndcg@10</b>: ranking quality" in page  # the metrics are explained


def test_published_figures_carry_their_sources_and_no_unexplained_marks(tmp_path):
    paths = write_report(tmp_path, ROWS, anchors=ML100K_ANCHORS, echo=False, context=_context())
    page = paths["html"].read_text()
    assert "~" not in page
    assert set(ANCHOR_SOURCES) == set(ML100K_ANCHORS)
    published = page[page.index("Published figures"):]
    assert "Microsoft Recommenders" in published and "WWW &#x27;20 Companion" in published
    for name, source in ANCHOR_SOURCES.items():
        assert f"<td>{name}</td><td>{ML100K_ANCHORS[name]:.3f}</td>" in published
        assert source.split(",")[0] in published
    assert "comparable with protocol (a)" in published
    payload = json.loads(paths["json"].read_text())
    assert payload["context"]["seeds"] == [0, 1] and payload["anchor_sources"]["BPR"].endswith("UAI 2009")


def test_the_page_fits_a_1280_px_window(tmp_path):
    """Nothing has a fixed width beyond the page: tables take the width they are given (their
    headers wrap) inside a scrolling box, and charts scale down."""
    page = write_report(tmp_path, ROWS, anchors=ML100K_ANCHORS, echo=False, context=_context())["html"].read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "main{max-width:1180px" in page and "svg{max-width:100%;height:auto}" in page
    assert "table{border-collapse:collapse;width:100%" in page
    assert page.count('<div class="scroll"><table>') == 2  # one per protocol
    assert "white-space:nowrap" not in page
    widths = [int(w) for w in re.findall(r'width="(\d+)"', page) if int(w) > 600]
    assert max(widths) <= 1180
