"""Human review in Label Studio: push the records the ``review`` stage picked, pull verdicts back.

``dataprep review push`` sends ``<run>/review/queue.jsonl`` as tasks (idempotent: matched by
our record id in the task data); ``pull`` writes ``<run>/review/verdicts.jsonl``, which
``dataprep run --resume`` applies; ``status`` shows progress and the defect-rate estimate;
``serve`` starts a local Label Studio. Without a server, ``push --to-file`` and
``pull --from-file`` go through Label Studio's import and export files.
"""

from .commands import pull, push, serve, status

__all__ = ["push", "pull", "status", "serve"]
