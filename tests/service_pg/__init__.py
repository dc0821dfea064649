"""The PostgreSQL backend (journal, key store) against a private server, and the contracts
it shares with the SQLite backend."""
