"""Full-text search: an FTS5 table kept in step by triggers, filled from the existing rows."""

from tortoise import migrations
from tortoise.migrations import operations as ops

# Regular (not external-content) FTS5: it keeps its own copy of the text, so it can index the group
# title (not an audio_file column) and a trigger can never corrupt it by deleting with stale values.
_COLUMNS = "title, performer, album, file_name, group_title"
_NEW_ROW = """new.id, coalesce(new.title, ''), coalesce(new.performer, ''), coalesce(new.album, ''),
    coalesce(new.file_name, ''),
    coalesce((SELECT title FROM telegram_group WHERE group_id = new.group_id), '')"""

# Each script brings its own BEGIN/COMMIT and the migration is non-atomic: Tortoise's SQLite editor
# splits atomic SQL on ';', which would cut the CREATE TRIGGER bodies apart.
CREATE_SEARCH_INDEX = f"""
BEGIN IMMEDIATE;
CREATE VIRTUAL TABLE IF NOT EXISTS audio_search USING fts5(
    {_COLUMNS},
    tokenize = "unicode61 remove_diacritics 2",
    prefix = '2 3 4'
);
DELETE FROM audio_search;
INSERT INTO audio_search (rowid, {_COLUMNS})
    SELECT a.id, coalesce(a.title, ''), coalesce(a.performer, ''), coalesce(a.album, ''),
        coalesce(a.file_name, ''), coalesce(g.title, '')
    FROM audio_file AS a LEFT JOIN telegram_group AS g ON g.group_id = a.group_id;
CREATE TRIGGER IF NOT EXISTS audio_search_after_insert AFTER INSERT ON audio_file
BEGIN
    INSERT INTO audio_search (rowid, {_COLUMNS}) VALUES ({_NEW_ROW});
END;
CREATE TRIGGER IF NOT EXISTS audio_search_after_update
AFTER UPDATE OF id, title, performer, album, file_name, group_id ON audio_file
WHEN old.id IS NOT new.id OR old.title IS NOT new.title OR old.performer IS NOT new.performer
    OR old.album IS NOT new.album OR old.file_name IS NOT new.file_name
    OR old.group_id IS NOT new.group_id
BEGIN
    DELETE FROM audio_search WHERE rowid = old.id;
    INSERT INTO audio_search (rowid, {_COLUMNS}) VALUES ({_NEW_ROW});
END;
CREATE TRIGGER IF NOT EXISTS audio_search_after_delete AFTER DELETE ON audio_file
BEGIN
    DELETE FROM audio_search WHERE rowid = old.id;
END;
CREATE TRIGGER IF NOT EXISTS audio_search_after_group_rename AFTER UPDATE OF title ON telegram_group
WHEN old.title IS NOT new.title
BEGIN
    UPDATE audio_search SET group_title = coalesce(new.title, '')
    WHERE rowid IN (SELECT id FROM audio_file WHERE group_id = new.group_id);
END;
COMMIT;
"""

DROP_SEARCH_INDEX = """
BEGIN IMMEDIATE;
DROP TRIGGER IF EXISTS audio_search_after_group_rename;
DROP TRIGGER IF EXISTS audio_search_after_delete;
DROP TRIGGER IF EXISTS audio_search_after_update;
DROP TRIGGER IF EXISTS audio_search_after_insert;
DROP TABLE IF EXISTS audio_search;
COMMIT;
"""


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    initial = False
    atomic = False

    operations = [
        ops.RunSQL(CREATE_SEARCH_INDEX, reverse_sql=DROP_SEARCH_INDEX),
    ]
