"""A self-contained HTML report of an experiment's :class:`~.analysis.Results`.

One HTML file, no external assets: the plots are PNGs drawn with matplotlib's Agg canvas
(no pyplot, no display, safe in a server thread) and inlined as base64 ``data:`` URIs.

* the verdict and its reason, the SRM check and the settings;
* per variant, a table of users and the mean of every metric, and per treatment the effect on
  each metric (relative lift with its interval, p-value, CUPED, probability to beat control,
  the sequential test) and the guardrail checks;
* **cumulative effect over time** (the primary metric, one panel per treatment): the estimate,
  the naive fixed-horizon 1-alpha interval and the always-valid confidence sequence (the
  sequential boundary: the effect is significant once the sequence excludes 0);
* **per-segment breakdown**: relative lift per segment value with its interval, as bars.

Every string from the data (variant, metric and segment names) is HTML-escaped.

Example:
    >>> import numpy as np
    >>> from tastemaker.experiments.analysis import analyze
    >>> from tastemaker.experiments.analysis_spec import AnalysisSpec, MetricSpec
    >>> from tastemaker.experiments.metrics_table import UserMetrics
    >>> n = 2000; i = np.arange(n)
    >>> t = UserMetrics(i, np.where(i % 2, "b", "a"), i * 60.0, {"conversion": (i % 7 == 0) * 1.0})
    >>> html = render_report(analyze(t, AnalysisSpec("a", MetricSpec("conversion"))), title="demo")
    >>> html.startswith("<!DOCTYPE html>"), html.count("data:image/png;base64,")
    (True, 1)
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from html import escape
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tastemaker.experiments.analysis import Results

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.verdict{font-size:1.3em;padding:.6em;border-radius:6px}
.ship{background:#e3f6e3}.stop_guardrail,.invalid_srm{background:#fbe3e3}.keep_control,.no_difference_yet{background:#eef}
.passed{color:#1a7f37}.breached{color:#c62828;font-weight:bold}.inconclusive,.not_measured{color:#8a6d00}"""


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _num(v: Any, fmt: str = "{:.4g}") -> str:
    return "–" if v is None else fmt.format(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:+.2%}"


def plot_cumulative(curves: dict[str, dict], metric: str) -> str:
    """One panel per treatment: estimate, naive CI and confidence sequence over exposure time."""
    fig = Figure(figsize=(9, 3.2 * max(1, len(curves))))
    for k, (treatment, c) in enumerate(sorted(curves.items())):
        ax = fig.add_subplot(len(curves), 1, k + 1)
        when = [dt.datetime.fromtimestamp(t, dt.timezone.utc) if t is not None else None for t in c["ts"]]
        pts = [(w, d, lo, hi, slo, shi) for w, d, lo, hi, slo, shi in
               zip(when, c["difference"], c["ci_low"], c["ci_high"], c["cs_low"], c["cs_high"]) if d is not None]
        if pts:
            w, d, lo, hi, slo, shi = zip(*pts)
            big = max(abs(x) for x in d + tuple(x for x in lo + hi if x is not None)) * 3 or 1.0
            clip = lambda xs, s: [s * big if x is None else max(-big, min(big, x)) for x in xs]  # noqa: E731
            ax.fill_between(w, clip(slo, -1), clip(shi, 1), color="tab:orange", alpha=0.25,
                            label="always-valid confidence sequence (sequential boundary)")
            ax.fill_between(w, clip(lo, -1), clip(hi, 1), color="tab:blue", alpha=0.25,
                            label="fixed-horizon CI (invalid under peeking)")
            ax.plot(w, d, color="tab:blue", marker="o", ms=3, label="difference")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{treatment} − control: {metric}, cumulative by first exposure")
        ax.set_ylabel(f"Δ {metric}")
        ax.legend(loc="upper right", fontsize=7)
        fig.autofmt_xdate()
    return _png(fig)


def plot_segments(rows: list[dict], column: str, metric: str) -> str:
    """Relative lift per segment value with its interval, one bar colour per treatment."""
    treatments = sorted({r["treatment"] for r in rows})
    segments = sorted({r["segment"] for r in rows})
    fig = Figure(figsize=(9, 0.6 * len(segments) * len(treatments) + 1.5))
    ax = fig.add_subplot(1, 1, 1)
    height = 0.8 / max(1, len(treatments))
    for j, t in enumerate(treatments):
        ys, xs, err_lo, err_hi = [], [], [], []
        for i, s in enumerate(segments):
            e = next((r["effect"] for r in rows if r["segment"] == s and r["treatment"] == t), None)
            if e and e["relative"] is not None:
                ys.append(i + j * height)
                xs.append(e["relative"] * 100)
                err_lo.append((e["relative"] - (e["rel_ci_low"] if e["rel_ci_low"] is not None else e["relative"])) * 100)
                err_hi.append(((e["rel_ci_high"] if e["rel_ci_high"] is not None else e["relative"]) - e["relative"]) * 100)
        ax.barh(ys, xs, height=height, xerr=[err_lo, err_hi], capsize=3, label=t, alpha=0.8)
    ax.set_yticks([i + height * (len(treatments) - 1) / 2 for i in range(len(segments))], segments)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"relative lift of {metric} vs control (%)")
    ax.set_title(f"{metric} by {column} (unadjusted; exploratory)")
    ax.legend(fontsize=7)
    return _png(fig)


def _variant_table(res: dict) -> str:
    metrics = [k for k in next(iter(res["summary"].values()), {}) if k != "users"]
    head = "".join(f"<th>{escape(m)}</th>" for m in metrics)
    body = "".join(f"<tr><td class=l>{escape(v)}</td><td>{s['users']}</td>"
                   + "".join(f"<td>{_num(s[m])}</td>" for m in metrics) + "</tr>"
                   for v, s in sorted(res["summary"].items()))
    return f"<table><tr><th class=l>variant</th><th>users</th>{head}</tr>{body}</table>"


def _effects_table(row: dict) -> str:
    out = ["<table><tr><th class=l>metric</th><th>control</th><th>treatment</th><th>lift</th><th>CI</th>"
           "<th>p</th><th>always-valid p</th><th>P(beat control)</th><th>CUPED var. reduction</th></tr>"]
    for name, e in row["metrics"].items():
        eff, seq, cu = e["effect"], e["sequential"], e["cuped"]
        if eff is None:
            out.append(f"<tr><td class=l>{escape(name)}</td><td colspan=8 class=l>{escape(e.get('error', ''))}</td></tr>")
            continue
        out.append(f"<tr><td class=l>{escape(name)}</td><td>{_num(eff['control_mean'])}</td>"
                   f"<td>{_num(eff['treatment_mean'])}</td><td>{_pct(eff['relative'])}</td>"
                   f"<td>[{_pct(eff['rel_ci_low'])}, {_pct(eff['rel_ci_high'])}]</td><td>{_num(eff['p_value'], '{:.3g}')}</td>"
                   f"<td>{_num(seq and seq['p_value'], '{:.3g}')}</td><td>{_num(e['prob_beat_control'], '{:.3f}')}</td>"
                   f"<td>{_pct(cu and cu['variance_reduction'])}</td></tr>")
    out.append("</table>")
    return "".join(out)


def render_report(results: Results | dict, title: str = "Experiment report") -> str:
    """The report as one HTML string."""
    res = results.to_dict() if isinstance(results, Results) else results
    srm = res["srm"]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
             f"<p class='verdict {escape(res['verdict'])}'><b>{escape(res['verdict'].replace('_', ' '))}"
             f"{': ' + escape(res['winner']) if res['winner'] else ''}</b><br>{escape(res['reason'])}</p>",
             f"<p>Sample ratio: {'<b class=breached>MISMATCH</b>' if srm['flagged'] else 'ok'} "
             f"(chi-square p={srm['p_value']:.3g}, threshold {srm['threshold']}); primary metric "
             f"<b>{escape(res['primary'])}</b>; settings {escape(str(res['settings']))}</p>",
             "<h2>Variants</h2>", _variant_table(res)]
    for row in res["variants"]:
        parts.append(f"<h3>{escape(row['variant'])} vs {escape(res['control'])}: {escape(row['decision'])} "
                     f"(adjusted p={row['p_value_adjusted']:.3g})</h3>")
        parts.append(_effects_table(row))
        if row["guardrails"]:
            parts.append("<ul>" + "".join(f"<li class={escape(g['status'])}>{escape(g['metric'])}: "
                                          f"{escape(g['status'])} — {escape(g['why'])}</li>"
                                          for g in row["guardrails"]) + "</ul>")
    if res["timeseries"]:
        parts += ["<h2>Cumulative effect over time</h2>", plot_cumulative(res["timeseries"], res["primary"])]
    for column, rows in res["segments"].items():
        parts += [f"<h2>By {escape(column)}</h2>", plot_segments(rows, column, res["primary"])]
    parts.append("</body></html>")
    return "\n".join(parts)
