"""The exchange as a service, tested through a real server process on 127.0.0.1."""
