"""Provider domain: admission and accreditation, evidence reviews, the service catalogue and
its search, ratings and the credit score, related parties and the order gate."""
