"""Provider domain: onboarding and accreditation, the service catalogue, search, ratings, claims."""
