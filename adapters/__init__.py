"""trueup.adapters."""
