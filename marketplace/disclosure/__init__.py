"""Public disclosure (上网公示, POLICY.md rule 7) and statistics (统计监测, rule 12)."""
