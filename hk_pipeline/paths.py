"""Where the project's own files live (SQL, packaged sample data)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
SQL_DIR = PROJECT_DIR / "sql"
DDL_DIR = SQL_DIR / "ddl"
MARTS_DIR = SQL_DIR / "marts"
VIEWS_DIR = SQL_DIR / "views"
RULES_DIR = SQL_DIR / "rules"
SAMPLE_DATA_DIR = PACKAGE_DIR / "sample_market" / "data"
