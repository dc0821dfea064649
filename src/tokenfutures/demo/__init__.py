"""The live demo market of ``tokenfutures serve --demo``: bots that trade through the API.

Pure strategy logic, in integer ticks and lots, no clock, no I/O, randomness from a seeded
``random.Random`` passed in:

- ``pricing``: the index-implied term structure, each contract's band of safe prices and its
  fair value (bounded random walks around an index-implied anchor);
- ``quoting``: a market maker's two-sided quotes (levels, inventory skew, inventory limit)
  and the amend/place/cancel plan that moves working orders to them without ever crossing
  the maker's own quotes;
- ``taking``: the liquidity takers' decisions (a hedger buying a strip of months, a GPU
  operator selling one, a speculator with a random-walk view) and an order budget;
- ``roster``: the bots, their accounts and parameters.

Around it, with I/O: ``link`` (the public client, ticks to decimal strings and back),
``bots`` (each bot's step), ``runner`` (the bots' process: ``python -m tokenfutures.demo``)
and ``session`` (what ``serve --demo`` does: fixings, reference prices, accounts, keys, and
the bots' process). See docs/demo.md.
"""
