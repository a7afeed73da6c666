"""The store: SQLAlchemy models of customers, their ledger, proposals and history.

SQLite is the embedded default; PostgreSQL serves a team. Nothing here imports Textual.
"""
