"""Recovery: checkers and findings, patches and their ledger, validation, confidence, policy."""
