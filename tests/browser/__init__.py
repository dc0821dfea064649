"""The web page, end to end in a real headless Chromium against a running demo exchange."""
