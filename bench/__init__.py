r"""The benchmark suite behind ``make bench`` and ``make bench-quick``.

Every comparison runs side by side in one run of ``python -m bench.run``: flowcore and the peers
(zuko, normflows) get the same data, the same standardisation, the same held-out set and the same
evaluation cadence, and the timed work is interleaved so that machine noise falls on all of them.
Results go to ``bench/results/<profile>/*.json``; :mod:`bench.report` turns them into Markdown.
"""
