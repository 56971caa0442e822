"""The public reporting service: a separate app and process that can encrypt and store, nothing more."""
