"""salesgate's Alembic migrations, shipped inside the package and run by ``Store.upgrade()``."""
