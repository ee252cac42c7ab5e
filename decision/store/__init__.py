"""Cases, MDT decisions and the audit chain, in SQLite by default or any SQLAlchemy database."""
