"""Risk flags, risk scores, weighted audit samples and findings (issue 11, point 4)."""
