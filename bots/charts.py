"""Pictures of progress: scores over time per topic, as PNG bytes (terminal and Telegram share it)."""

from __future__ import annotations

import io
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from agent.service import Progress


def chart_title(who: str | None = None) -> str:
    """The chart's title: the candidate's name when known, never an internal user id."""
    return f"{who}'s progress · scores over time" if who else "Your progress · scores over time"


def progress_png(progress: Progress, who: str | None = None) -> bytes:
    """A line per topic: each graded answer's score, and a rolling mean of the last three.
    `who` is a display name (a Telegram first name); the PNG's Title metadata holds the title too."""
    by_topic: dict[str, list[tuple]] = defaultdict(list)
    for point in progress.history:
        by_topic[point.topic].append((point.at, point.score))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    try:
        for topic, points in sorted(by_topic.items()):
            xs = [at for at, _ in points]
            ys = [score for _, score in points]
            rolling = [sum(ys[max(0, i - 2) : i + 1]) / len(ys[max(0, i - 2) : i + 1]) for i in range(len(ys))]
            (line,) = ax.plot(xs, rolling, marker="o", markersize=3, label=topic)
            ax.scatter(xs, ys, s=10, alpha=0.35, color=line.get_color())
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("score (rolling mean of 3)")
        title = chart_title(who)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
        if by_topic:
            ax.legend(loc="lower left", fontsize=8, ncols=min(4, len(by_topic)))
        else:
            ax.text(0.5, 0.5, "No graded answers yet", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Title": title})
        return buf.getvalue()
    finally:
        plt.close(fig)


def calibration_png(progress: Progress) -> bytes:
    """Per topic, how sure the candidate was (self-rating as 0 / 0.5 / 1) against the mean score:
    bars above the zero line are overconfidence, below it underconfidence."""
    topics = sorted(progress.calibration)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    try:
        if topics:
            biases = [progress.calibration[t].bias for t in topics]
            colours = ["#cf222e" if b > 0.15 else "#1f6feb" if b < -0.15 else "#1a7f37" for b in biases]
            bars = ax.bar(range(len(topics)), biases, color=colours)
            for bar, topic in zip(bars, topics, strict=True):
                c = progress.calibration[topic]
                ax.annotate(f"n={c.n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom" if c.bias >= 0 else "top", fontsize=8)
            ax.set_xticks(range(len(topics)), topics, rotation=30, ha="right", fontsize=8)
        else:
            ax.text(0.5, 0.5, "No self-rated answers yet", ha="center", va="center", transform=ax.transAxes)
        ax.axhline(0, color="#5b6573", linewidth=1)
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel("bias: self-rating − score")
        ax.set_title(f"Calibration · {progress.user} (above 0: overconfident, below: underconfident)")
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
