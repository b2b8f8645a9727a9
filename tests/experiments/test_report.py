"""The HTML report renders, is self-contained, carries its plots and escapes data."""

import base64
import doctest
import re

from tastemaker.experiments import report
from tastemaker.experiments.analysis import analyze
from tastemaker.experiments.analysis_spec import AnalysisSpec, MetricSpec
from tastemaker.experiments.report import render_report

from .tables import make_table


def test_report_has_verdict_tables_and_both_plots():
    t = make_table(6000, {"a": 0.10, "b<script>": 0.13}, seed=1, segments=True)
    res = analyze(t, AnalysisSpec("a", MetricSpec("conversion"), guardrails=(MetricSpec("revenue", threshold=0.1),),
                                  segments=("device",), looks=6))
    html = render_report(res, title="Test & report")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<title>Test &amp; report</title>" in html and "<script>" not in html and "b&lt;script&gt;" in html
    assert "Cumulative effect over time" in html and "By device" in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 2
    for b64 in images:
        png = base64.b64decode(b64)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert res.verdict.replace("_", " ") in html and "revenue" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from outside
    assert render_report(res.to_dict(), title="Test & report") == html  # from the JSON form too


def test_docstring_examples():
    assert doctest.testmod(report).failed == 0
