"""SQLAlchemy Core adapters for PostgreSQL (psycopg 3) and SQLite."""
