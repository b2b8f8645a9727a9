"""Evaluation reports: a terminal table, JSON, and a self-contained HTML page with SVG plots.

The HTML has no external JS or CSS (it opens offline and can be attached to a ticket):
plots are inline SVG built here. :func:`bar_chart_svg` draws one metric per family next to
published reference values; :func:`line_plot_svg` draws x-vs-y trade-off curves (e.g.
accuracy against diversity as a re-ranking weight varies).

Example:
    >>> rows = [{"family": "pop", "protocol": "random", "ndcg@10": 0.254}]
    >>> print(format_table(rows, ["family", "ndcg@10"]))
    family  ndcg@10
    ------  -------
    pop      0.2540
"""

from __future__ import annotations

import html
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from tastemaker.evaluation.report_context import (
    METRICS,
    PROTOCOLS,
    STYLE,
    anchors_html,
    context_html,
    protocol_html,
)

#: nDCG@10 on ML-100k under protocol (a) (per-user random 75/25, binary relevance, k = 10,
#: seen items removed), from the Microsoft Recommenders benchmark: see ANCHOR_SOURCES.
ML100K_ANCHORS: dict[str, float] = {"BiVAE": 0.475, "BPR": 0.442, "LightGCN": 0.420, "NCF": 0.396, "SAR": 0.382}
ANCHOR_BENCHMARK = ("Microsoft Recommenders, \"Algorithm comparison\" on MovieLens 100k, top-10, 75/25 split "
                    "stratified by user (github.com/recommenders-team/recommenders, "
                    "examples/06_benchmarks/movielens.ipynb); Argyriou, González-Fierro and Zhang, "
                    "\"Microsoft Recommenders: Best Practices for Production-Ready Recommendation Systems\", "
                    "WWW '20 Companion")
ANCHOR_SOURCES: dict[str, str] = {
    "BiVAE": "Truong, Salah and Lauw, \"Bilateral Variational Autoencoder for Collaborative Filtering\", WSDM 2021",
    "BPR": "Rendle et al., \"BPR: Bayesian Personalized Ranking from Implicit Feedback\", UAI 2009",
    "LightGCN": "He et al., \"LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation\", SIGIR 2020",
    "NCF": "He et al., \"Neural Collaborative Filtering\", WWW 2017",
    "SAR": "Smart Adaptive Recommendations (Microsoft), described in the Recommenders repository",
}
DEFAULT_COLUMNS = ("family", "protocol", "ndcg@10", "precision@10", "recall@10", "map@10",
                   "mrr@10", "hit_rate@10", "coverage@10", "novelty@10", "diversity@10",
                   "arp@10", "fit_s")
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                 anchors: Mapping[str, float] | None = None, metric: str = "ndcg@10") -> str:
    """Plain-text table; *anchors* are appended as ``published`` rows for *metric*.

    Columns default to :data:`DEFAULT_COLUMNS` present in any row; numbers right-aligned.
    """
    cols = list(columns) if columns else [c for c in DEFAULT_COLUMNS if any(c in r for r in rows)]
    body = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    for name, value in (anchors or {}).items():
        body.append([name if c == "family" else "published" if c == "protocol"
                     else _cell(value) if c == metric else "" for c in cols])
    widths = [max([len(c)] + [len(b[i]) for b in body]) for i, c in enumerate(cols)]
    numeric = [all(_is_num(b[i]) for b in body if b[i]) for i in range(len(cols))]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric)).rstrip()
    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(b) for b in body])


def _is_num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                anchors: Mapping[str, float] | None = None, metric: str = "ndcg@10",
                file: TextIO | None = None) -> None:
    """Print :func:`format_table` (to stdout by default)."""
    print(format_table(rows, columns, anchors, metric), file=file or sys.stdout)


def write_json(path: Path | str, payload: Any) -> Path:
    """Write *payload* as indented JSON (NaN -> null, so strict parsers accept it)."""
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, Mapping):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x.item() if hasattr(x, "item") else x  # numpy scalars
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(payload), indent=2, sort_keys=False) + "\n")
    return path


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def bar_chart_svg(values: Mapping[str, float], references: Mapping[str, float] | None = None,
                  title: str = "", metric: str = "ndcg@10", width: int = 640) -> str:
    """Horizontal bars: our *values* (blue) and published *references* (grey), best first.

    A dashed line marks the best reference, so "beats the state of the art" is visible.

    Example:
        >>> svg = bar_chart_svg({"ease": 0.5}, {"BiVAE": 0.475})
        >>> svg.startswith("<svg") and "BiVAE" in svg
        True
    """
    bars = [(k, v, False) for k, v in values.items() if _finite(v)]
    bars += [(k, v, True) for k, v in (references or {}).items() if _finite(v)]
    bars.sort(key=lambda b: -b[1])
    bar_h, gap, left, top, right = 18, 6, 150, 34, 60
    height = top + len(bars) * (bar_h + gap) + 30
    vmax = max([v for _, v, _ in bars] + [1e-9]) * 1.08
    plot_w = width - left - right
    x = lambda v: left + plot_w * v / vmax  # noqa: E731 - tiny local scale
    out = [_svg_open(width, height), _text(width / 2, 20, title or metric, anchor="middle", bold=True)]
    for i, (name, value, ref) in enumerate(bars):
        y = top + i * (bar_h + gap)
        fill = "#b0b0b0" if ref else "#1f77b4"
        label = f"{name} (published)" if ref else name
        out.append(f'<rect x="{left}" y="{y}" width="{x(value) - left:.1f}" height="{bar_h}" '
                   f'fill="{fill}"><title>{_esc(label)}: {value:.4f}</title></rect>')
        out.append(_text(left - 6, y + bar_h - 5, label, anchor="end"))
        out.append(_text(x(value) + 4, y + bar_h - 5, f"{value:.3f}"))
    if references:
        best = max(references.values())
        out.append(f'<line x1="{x(best):.1f}" y1="{top - 4}" x2="{x(best):.1f}" '
                   f'y2="{height - 24}" stroke="#d62728" stroke-dasharray="4 3"/>')
        out.append(_text(x(best), height - 10, f"best published {best:.3f}", anchor="middle"))
    out.append("</svg>")
    return "\n".join(out)


def line_plot_svg(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = "",
                  x_label: str = "x", y_label: str = "y", width: int = 640, height: int = 400,
                  annotate: Mapping[str, Sequence[str]] | None = None) -> str:
    """x-vs-y curves (one polyline with markers per series), axes scaled to the data.

    *annotate* optionally labels each point of a series (e.g. the lambda of a trade-off).

    Example:
        >>> svg = line_plot_svg({"mmr": ([0.1, 0.2], [0.5, 0.45])}, x_label="diversity")
        >>> svg.count("<polyline")
        1
    """
    pts = [(x, y) for xs, ys in series.values() for x, y in zip(xs, ys) if _finite(x) and _finite(y)]
    xs_all, ys_all = [p[0] for p in pts] or [0.0, 1.0], [p[1] for p in pts] or [0.0, 1.0]
    x0, x1 = _pad(min(xs_all), max(xs_all))
    y0, y1 = _pad(min(ys_all), max(ys_all))
    left, right, top, bottom = 64, 130, 34, 48
    pw, ph = width - left - right, height - top - bottom
    sx = lambda v: left + pw * (v - x0) / (x1 - x0)  # noqa: E731
    sy = lambda v: top + ph * (1 - (v - y0) / (y1 - y0))  # noqa: E731
    out = [_svg_open(width, height), _text(width / 2, 20, title, anchor="middle", bold=True),
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for i in range(5):  # 5 ticks per axis are enough to read a trade-off
        tx, ty = x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * i / 4
        out.append(_text(sx(tx), top + ph + 16, f"{tx:.3g}", anchor="middle"))
        out.append(_text(left - 6, sy(ty) + 4, f"{ty:.3g}", anchor="end"))
    out.append(_text(left + pw / 2, height - 10, x_label, anchor="middle"))
    out.append(f'<text x="16" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + ph / 2})">{_esc(y_label)}</text>')
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = _PALETTE[i % len(_PALETTE)]
        p = [(sx(a), sy(b)) for a, b in zip(xs, ys) if _finite(a) and _finite(b)]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in p) + '"/>')
        labels = list((annotate or {}).get(name, []))
        for j, (a, b) in enumerate(p):
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>')
            if j < len(labels):
                out.append(_text(a + 5, b - 5, labels[j], size=10))
        out.append(f'<rect x="{left + pw + 12}" y="{top + 16 * i}" width="10" height="10" '
                   f'fill="{color}"/>')
        out.append(_text(left + pw + 26, top + 16 * i + 9, name))
    out.append("</svg>")
    return "\n".join(out)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _pad(lo: float, hi: float) -> tuple[float, float]:
    span = hi - lo if hi > lo else (abs(hi) or 1.0)
    return lo - 0.05 * span, hi + 0.05 * span


def _svg_open(width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">')


def _text(x: float, y: float, text: Any, anchor: str = "start", bold: bool = False,
          size: int = 12) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{weight}>'
            f"{_esc(text)}</text>")


def _html_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_esc(_cell(r.get(c, '')))}</td>" for c in columns)
                   + "</tr>" for r in rows)
    # In a scrolling box as a last resort: the columns wrap their headers to fit 1280 px first.
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def write_html(path: Path | str, rows: Sequence[Mapping[str, Any]],
               title: str = "Tastemaker offline evaluation", metric: str = "ndcg@10",
               anchors: Mapping[str, float] | None = None, anchor_protocol: str | None = "random",
               plots: Sequence[str] = (), notes: str = "", context: Mapping[str, Any] | None = None,
               anchor_sources: Mapping[str, str] | None = None, anchor_benchmark: str = ANCHOR_BENCHMARK) -> Path:
    """Write one HTML page: what was measured (*context*, see
    :func:`~tastemaker.evaluation.report_context.evaluation_context`), per protocol what it
    means, a table and a bar chart of *metric*, then *plots*, then the published figures.

    *anchors* are drawn on the chart of ``anchor_protocol`` only (all charts if None):
    published figures are only comparable under their own protocol.
    """
    protocols = list(dict.fromkeys(str(r.get("protocol", "")) for r in rows))
    cols = [c for c in DEFAULT_COLUMNS if any(c in r for r in rows)]
    if context:
        title = f"{title}: {context['dataset']}"
    parts = [f"<h1>{_esc(title)}</h1>"]
    if context:
        parts.append(f'<p class="sub">{_esc(context["generated"])} · seeds {", ".join(map(str, context["seeds"]))}'
                     f" · {len(protocols)} protocol(s) · {len({r.get('family') for r in rows})} families</p>")
        parts.append(context_html(context))
    if notes:
        parts.append(f"<p>{_esc(notes)}</p>")
    parts.append(f'<p class="note">{METRICS}</p>')
    for proto in protocols:
        group = [r for r in rows if str(r.get("protocol", "")) == proto]
        refs = anchors if anchor_protocol is None or proto == anchor_protocol else None
        parts.append(protocol_html(proto))
        parts.append(_html_table(group, cols))
        values = {str(r.get("family", i)): float(r[metric]) for i, r in enumerate(group)
                  if _finite(r.get(metric))}
        parts.append(bar_chart_svg(values, refs, f"{metric}, protocol {PROTOCOLS.get(proto, (proto,))[0]}", metric))
    parts.extend(f'<div class="plot">{p}</div>' for p in plots)
    if anchors:
        parts.append(anchors_html(anchors, ANCHOR_SOURCES if anchor_sources is None else anchor_sources,
                                  anchor_benchmark, metric))
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body><main>\n"
            + "\n".join(parts) + "\n</main></body></html>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_report(directory: Path | str, rows: Sequence[Mapping[str, Any]], name: str = "evaluation",
                 anchors: Mapping[str, float] | None = None, plots: Sequence[str] = (),
                 echo: bool = True, **html_kwargs: Any) -> dict[str, Path]:
    """Print the table (when *echo*) and write ``<name>.json`` and ``<name>.html``."""
    directory = Path(directory)
    if echo:
        print_table(rows, anchors=anchors)
    payload = {"context": dict(html_kwargs.get("context") or {}), "rows": list(rows), "anchors": dict(anchors or {}),
               "anchor_sources": {k: ANCHOR_SOURCES.get(k, "") for k in (anchors or {})}}
    return {"json": write_json(directory / f"{name}.json", payload),
            "html": write_html(directory / f"{name}.html", rows, anchors=anchors, plots=plots,
                               **html_kwargs)}
