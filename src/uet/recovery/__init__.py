"""Recovery: checkers → findings (``uet scan``); fixers → patches, validation, policy.

* :mod:`uet.recovery.findings` — the Finding model, fingerprints, JSONL;
* :mod:`uet.recovery.checkers` — the checker protocol, the built-ins, the ``checkers`` section;
* :mod:`uet.recovery.scan` — a scan as a recorded run, with its cache and ``--diff``;
* :mod:`uet.recovery.sarif` — the SARIF 2.1.0 export;
* :mod:`uet.recovery.patches`, :mod:`~uet.recovery.ledger`, :mod:`~uet.recovery.validate`,
  :mod:`~uet.recovery.confidence`, :mod:`~uet.recovery.policy` — patches, their ledger,
  validation in isolation, the score and the policy that acts on it.
"""
