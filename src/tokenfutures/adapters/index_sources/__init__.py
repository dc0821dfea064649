"""Price sources for the index family: each read returns a :class:`SourceSnapshot`.

* :mod:`.genai_prices_source` — list prices embedded in the ``genai-prices`` package (default);
* :mod:`.openrouter_source` — OpenRouter's ``/api/v1/models`` list, from a file or a URL;
* :mod:`.contributed_csv` — trades, firm quotes and list prices submitted as CSV;
* :mod:`.gpu_prices` — the packaged GPU rental price snapshot.

See docs/index-data-sources.md.
"""

from __future__ import annotations

from tokenfutures.adapters.index_sources.contributed_csv import (
    ContributedDataError,
    contributed_gpu_observations,
    contributed_token_observations,
)
from tokenfutures.adapters.index_sources.genai_prices_source import (
    GenaiPricesSource,
    token_history,
    token_observations,
)
from tokenfutures.adapters.index_sources.gpu_prices import gpu_observations
from tokenfutures.adapters.index_sources.openrouter_source import (
    OpenRouterDataError,
    openrouter_observations,
)
from tokenfutures.adapters.index_sources.snapshot import SkippedInput, SourceSnapshot

__all__ = [
    "ContributedDataError",
    "GenaiPricesSource",
    "OpenRouterDataError",
    "SkippedInput",
    "SourceSnapshot",
    "contributed_gpu_observations",
    "contributed_token_observations",
    "gpu_observations",
    "openrouter_observations",
    "token_history",
    "token_observations",
]
