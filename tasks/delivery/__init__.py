"""Delivery: getting each ready lead to the dialer exactly once (docs/delivery.md).

- ``context``: :class:`~tasks.delivery.context.Delivery`, what sending a run's batches needs, and
  :class:`~tasks.delivery.context.RunContext`, the whole run's, passed instead of parameter lists;
- ``attempt``: one attempt at a batch (send, split a refused one, settle the answer, look up an
  unknown one);
- ``tasks``: the Prefect tasks (a chunk's first attempts, a batch's retries, reconciling what an
  earlier run left unknown);
- ``loader``: :class:`~tasks.delivery.loader.ChunkLoader`, chunk after chunk, in order.
"""
