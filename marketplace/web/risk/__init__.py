"""Risk pages for reviewers and auditors: flags, evidence, samples, findings, settings."""
