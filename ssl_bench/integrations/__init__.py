"""ssl-bench inside someone else's training: :class:`~ssl_bench.integrations.online.OnlineEvaluation` (a hook for a
plain PyTorch loop) and :mod:`ssl_bench.integrations.lightning` (a Lightning callback, with the ``lightning``
extra). Both run registered evaluations on the user's encoder every N epochs under ssl-bench's protocol."""
