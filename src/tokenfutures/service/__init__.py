"""The exchange as a service: the sequencer and its journal, read models, the API."""
