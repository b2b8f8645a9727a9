"""What an evaluation report must say besides its numbers: the data, the splits, the seeds,
how to reproduce it, what each protocol means, and where published figures come from.

:func:`evaluation_context` gathers the facts at evaluation time; the ``*_html`` functions
render them for :func:`tastemaker.evaluation.report.write_html`.
"""

from __future__ import annotations

import datetime as dt
import html
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from tastemaker import __version__

#: What each protocol tests, for a reader who has not read the code.
PROTOCOLS: dict[str, tuple[str, str]] = {
    "random": ("(a) random, per user",
               "Each user's interactions are split at random: 75% to train, 25% to test (a user with one "
               "interaction keeps it in train). The protocol of the published figures below."),
    "temporal": ("(b) temporal, global cut",
                 "One point in time splits everything: the latest 20% of interactions are test. Closest to "
                 "production (the model never sees the future), and harder."),
    "leave_last_out": ("(c) leave last out",
                       "Each user's latest interaction is the test item (users with at least two). "
                       "Measures next-item prediction."),
}
METRICS = ("<b>ndcg@10</b>: ranking quality of the top 10 (1 = every test item first); "
           "<b>precision@10</b>, <b>recall@10</b>, <b>map@10</b>, <b>mrr@10</b>, <b>hit_rate@10</b>: hits among the "
           "top 10; <b>coverage@10</b>: share of the catalogue ever recommended; <b>novelty@10</b>: how unpopular "
           "the recommended items are; <b>diversity@10</b>: dissimilarity of categories within a list; "
           "<b>arp@10</b>: average popularity of recommended items; <b>fit_s</b>: training seconds. Every figure "
           "is the mean over the seeds; items a user already has in train are never recommended.")

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}
h1{margin:0 0 4px;font-size:26px}.sub{color:#57606a;margin:0 0 16px}
h2{margin:28px 0 6px;font-size:20px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 18px;margin:12px 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{font-weight:600;color:#3b444e}dd{margin:0}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef0f3;padding:1px 5px;border-radius:4px;
overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{border-bottom:1px solid #e5e8ec;padding:4px 6px;text-align:right;vertical-align:top}
th{font-weight:600;color:#3b444e;border-bottom:2px solid #d0d5db;overflow-wrap:anywhere}
td:first-child,th:first-child{text-align:left}
table.refs td,table.refs th{text-align:left}
svg{max-width:100%;height:auto}
.note{color:#57606a;font-size:14px}
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def evaluation_context(data: Any, dataset: str, protocols: Sequence[str], seeds: Sequence[int],
                       command: Sequence[str] | None = None) -> dict[str, Any]:
    """The facts a reader needs to trust and repeat an evaluation of *data*.

    Split sizes are those of the first seed (per-user random splits keep the same sizes for
    every seed; the temporal cut does not depend on it).
    """
    from tastemaker.evaluation.splits import split

    splits = {}
    for protocol in protocols:
        train, test = split(data, protocol, seed=seeds[0])
        splits[protocol] = {"train": int(train.nnz), "test": int(test.nnz),
                            "test_users": int((test.getnnz(axis=1) > 0).sum())}
    n_users, n_items = data.matrix.shape
    return {
        "dataset": dataset, "users": int(n_users), "items": int(n_items), "interactions": int(data.matrix.nnz),
        "seeds": list(seeds), "splits": splits,
        "command": shlex.join(command if command is not None else ["tastemaker", *sys.argv[1:]]),
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "version": __version__,
    }


def context_html(context: Mapping[str, Any]) -> str:
    """The "what was measured" card: data set, seeds, splits per protocol, how to reproduce."""
    rows = [("Data set", f"{_esc(context['dataset'])}: {context['users']:,} users, {context['items']:,} items, "
                         f"{context['interactions']:,} interactions"),
            ("Seeds", ", ".join(str(s) for s in context["seeds"]) + " (every figure is the mean over them)")]
    for protocol, sizes in context.get("splits", {}).items():
        name = PROTOCOLS.get(protocol, (protocol, ""))[0]
        rows.append((f"Split {_esc(name)}", f"{sizes['train']:,} train / {sizes['test']:,} test interactions; "
                                            f"{sizes['test_users']:,} users evaluated"))
    rows.append(("Reproduce", f"<code>{_esc(context['command'])}</code>"))
    rows.append(("Generated", f"{_esc(context['generated'])} by tastemaker {_esc(context['version'])}"))
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<section class="card"><h2>What was measured</h2><dl>{items}</dl></section>'


def protocol_html(protocol: str) -> str:
    name, text = PROTOCOLS.get(protocol, (protocol or "n/a", ""))
    return f"<h2>Protocol {_esc(name)}</h2>" + (f'<p class="note">{_esc(text)}</p>' if text else "")


def anchors_html(anchors: Mapping[str, float], sources: Mapping[str, str], benchmark: str, metric: str) -> str:
    """Published figures with their sources, and what they may be compared with."""
    rows = "".join(f"<tr><td>{_esc(name)}</td><td>{value:.3f}</td><td>{_esc(sources.get(name, ''))}</td></tr>"
                   for name, value in sorted(anchors.items(), key=lambda kv: -kv[1]))
    return ('<section class="card"><h2>Published figures</h2>'
            f'<p class="note">{_esc(metric)} reported by: {_esc(benchmark)}. They are comparable with protocol (a) '
            "only, which follows the same rules (per-user random 75/25, binary relevance, top 10, seen items "
            "removed); they are grey bars in its chart.</p>"
            f'<div class="scroll"><table class="refs"><thead><tr><th>model</th><th>{_esc(metric)}</th>'
            f"<th>method paper</th></tr></thead><tbody>{rows}</tbody></table></div></section>")
