"""A database written by an older filedock opens under a newer one: columns added since are added, and the
rows already there (an unfinished upload, say) keep working."""
import sqlite3

from appliance.db import Database

OLD_UPLOADS = """CREATE TABLE uploads (
    id TEXT PRIMARY KEY, volume TEXT NOT NULL, wark TEXT, folder TEXT NOT NULL, name TEXT NOT NULL,
    size INTEGER NOT NULL, lmod INTEGER NOT NULL, chunk_size INTEGER NOT NULL, hashes TEXT NOT NULL,
    have TEXT NOT NULL, temp TEXT NOT NULL, username TEXT, replace_ok INTEGER NOT NULL,
    meta TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL)"""


def test_an_older_database_gains_the_new_columns_and_keeps_its_uploads(tmp_path):
    with sqlite3.connect(tmp_path / "filedock.sqlite3") as old:
        old.execute(OLD_UPLOADS)
        old.execute("INSERT INTO uploads VALUES ('u1', '/', 'w', '', 'a.bin', 10, 0, 1048576, '[\"h\"]', '[]', "
                    "'/tmp/x', 'bob', 0, '{}', 1.0, 1.0)")
    db = Database(tmp_path)
    upload = db.upload_get("u1")
    assert upload["boot"] is None and upload["name"] == "a.bin" and upload["hashes"] == ["h"]
    updated, completed = db.upload_mark_chunks(upload, [0], "this-boot")
    assert completed and updated["boot"] == "this-boot" == db.upload_get("u1")["boot"]
    Database(tmp_path).close()   # opening it again changes nothing
    assert db.upload_get("u1")["have"] == [0]


OLD_FILES = """CREATE TABLE files (
    volume TEXT NOT NULL, relpath TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, wark TEXT, indexed_at REAL NOT NULL, PRIMARY KEY (volume, relpath))"""


def test_an_older_index_gains_the_protocol_column_and_its_files_count_as_written_by_no_one_known(tmp_path):
    from appliance.uploads import dedup
    with sqlite3.connect(tmp_path / "filedock.sqlite3") as old:
        old.execute(OLD_FILES)
        old.execute("INSERT INTO files VALUES ('/', 'a.bin', 5, 1, 2, 'w', 1.0)")
    db = Database(tmp_path)
    entry = db.file_get("/", "a.bin")
    assert entry["protocol"] is None and entry["wark"] == "w"
    assert not dedup.written_by_filedock(entry), "never hardlinked: who wrote it is not known"
    db.file_put("/", "b.bin", 5, 1, 3, None, "dav")
    assert dedup.written_by_filedock(db.file_get("/", "b.bin"))
    db.close()
