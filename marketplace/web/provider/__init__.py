"""The provider portal: the admission application, services and instrument listings,
related-party declarations."""
