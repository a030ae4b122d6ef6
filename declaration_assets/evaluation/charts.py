"""PNG charts of an evaluation and of the model comparison (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .bertscore import BertScoreResult  # noqa: E402
from .models import ComparisonRow, JudgeSummary  # noqa: E402
from .usage import RoleUsage  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _bars(ax, labels: Sequence[str], series: dict[str, Sequence[float | None]], ylabel: str, ylim=None) -> None:
    n = max(len(series), 1)
    width = 0.8 / n
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (n - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, [v if v is not None else 0 for v in values], width, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="lower left", framealpha=0.8)


def bertscore_chart(result: BertScoreResult) -> bytes:
    scored = [s for s in result.sections if s.status == "scored" or s.status == "missing_in_declaration"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = [s.title for s in scored]
    _bars(ax, labels, {"precision": [s.precision for s in scored], "recall": [s.recall for s in scored],
                       "F1": [s.f1 for s in scored]}, "BERTScore", (0, 1))
    ax.set_title(f"BERTScore per section (overall F1 {result.f1:.3f})" if result.f1 is not None else "BERTScore per section")
    return _png(fig)


def judges_chart(judges: JudgeSummary) -> bytes:
    elements = list(judges.mean_by_element)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    series = {j: [judges.by_judge.get(j, {}).get(e) for e in elements] for j in judges.judges}
    _bars(ax, elements, series, "mean rubric score (1-5; 0 = unscorable)", (0, 5))
    ax.set_title("Judge scores per element")
    return _png(fig)


def usage_chart(usage: Sequence[RoleUsage]) -> bytes:
    labels = [f"{u.asset}/{u.role}" for u in usage]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6))
    _bars(a1, labels, {"latency s": [u.latency_s for u in usage]}, "seconds")
    a1.set_title("LLM time per role")
    _bars(a2, labels, {"prompt": [u.prompt_tokens for u in usage], "completion": [u.completion_tokens for u in usage]},
          "tokens")
    a2.set_title("Tokens per role")
    return _png(fig)


def comparison_chart(rows: Sequence[ComparisonRow]) -> bytes:
    labels = [r.model_config_name for r in rows]
    panels = [
        ("mean BERTScore F1", [r.mean_f1 for r in rows], (0, 1)),
        ("mean judge score", [r.mean_judge for r in rows], (0, 5)),
        ("guard serious findings / case", [r.mean_guard_serious for r in rows], None),
        ("LLM latency s / case", [r.mean_latency_s for r in rows], None),
        ("cost USD (total)", [r.cost_usd for r in rows], None),
        ("READY declarations", [r.ready for r in rows], None),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(11, 6))
    for ax, (title, values, ylim) in zip(axes.flat, panels):
        _bars(ax, labels, {title: values}, "", ylim)
        ax.set_title(title, fontsize=9)
    return _png(fig)
