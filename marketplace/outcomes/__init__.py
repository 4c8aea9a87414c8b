"""What vouchers achieved: structured outcomes an SME records for a completed order, and
their summaries per programme, category and region (issue 11, point 6)."""
