"""The floor everything stands on: files, checkpoints, caches, errors, config sections.

It imports nothing of vaegan, so any package may use it.

Files:
    errors.py       ``VaeganError`` and its kinds; the CLI prints their message without a traceback.
    files.py        atomic, durable writes (``atomic_write``, ``write_text_atomic``) and ``cache_dir()``.
    checkpoints.py  ``atomic_save`` / ``read_checkpoint``: plain data and tensors, ``weights_only`` loading.
    section.py      ``Section``, the base of every typed config section.
"""
