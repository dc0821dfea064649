"""A readable chart of index histories (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

from tokenfutures.domain.index.fixing import Fixing
from tokenfutures.domain.index.observations import MICRO_USD


def draw_history(series: dict[str, list[Fixing]], main: str, out: Path) -> None:
    """One line per index, ``main`` drawn thicker; unpublished days are gaps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 5), dpi=120)
    first = series[main][0]
    for code, fixings in series.items():
        days = [f.day for f in fixings]
        values = [None if f.value is None else f.value / MICRO_USD for f in fixings]  # plot only
        axes.plot(days, values, label=code, linewidth=2.4 if code == main else 1.2)
    axes.set_title(f"tokenfutures {main} and related indices")
    axes.set_ylabel(first.unit)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
