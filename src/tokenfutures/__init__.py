"""tokenfutures: an exchange for futures on AI tokens and GPU compute."""

__version__ = "0.1.0"
