"""Zero-shot accuracy metric (the script next to this file is also loadable with ``evaluate.load``)."""
