from tests.storage.engines import database, postgres_url

__all__ = ["database", "postgres_url"]
