"""Scale-out on Ray: the backend's jobs on a cluster of workers, and batches of songs.

* ``runtime``: connecting to (or starting) a Ray cluster, and what it holds (nodes, GPUs, CPUs).
* ``worker``: ``EngineWorker``, the body of one Ray actor: it builds its motion generator and video
  renderer once (one actor per GPU keeps its models loaded) and runs jobs with them.
* ``pool``: ``RayWorkerPool``, the actors of a ``serve --ray`` backend (GPU workers for the Motion Expert
  and Wan-Animate, CPU workers for the choreographer and the puppet) and the progress queue they share.
* ``executor``: ``RayExecutor``, which takes the place of the server's local worker thread: it hands jobs
  to idle actors, streams their progress back, forwards ``cancel`` and retries a job whose worker died.
* ``batch``: ``mace-dance batch``: a manifest of rows run locally or on the cluster, resumable.

Ray is an optional dependency (``pip install mace-dance-studio[cluster]``). Nothing here imports it at
module level, and nothing outside this package imports this package unless ``--ray`` was asked for.
"""
