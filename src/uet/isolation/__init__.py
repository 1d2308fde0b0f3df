"""Git isolation for concurrent agents: the only package that runs git.

* :mod:`uet.isolation.git` — the git runner (argv lists, clean errors, per-repository order,
  patience with held locks, never deleting one);
* :mod:`uet.isolation.clones` — agent clones, their context, hooks and guard, explicit-path
  commits, archiving work before removal;
* :mod:`uet.isolation.merge` — the gated merge queue;
* :mod:`uet.isolation.detect` — detectors of the six multi-agent failure modes (P1-P6).
"""
