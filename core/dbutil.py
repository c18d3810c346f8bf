"""SQL for database-enforced guarantees shared by every app (append-only tables)."""

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_modification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
"""


def append_only_sql(table: str) -> tuple[str, str]:
    """(forward, reverse) SQL making `table` refuse UPDATE and DELETE.

    TRUNCATE is left to the table owner (the test harness flushes with it); the application's role in
    production need not own the tables."""
    forward = APPEND_ONLY_FUNCTION + f"""
    CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION refuse_modification();
    """
    reverse = f"""
    DROP TRIGGER IF EXISTS {table}_append_only ON {table};
    """
    return forward, reverse
