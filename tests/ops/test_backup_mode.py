"""Issue 30 finding 7: `linli backup` wrote its dump with mode 0644; it holds phones and the hashes of
passwords, sessions and codes. pg_dump is replaced by a stand-in that writes its --file the way
pg_dump does (open for writing, which keeps an existing file's mode)."""

import os
import stat

from domain.core import backup


def test_finding_7_a_backup_is_readable_by_its_owner_only(tmp_path, monkeypatch):
    async def major(url):
        return 16

    def pg_dump(args, env):
        path = next(a.split("=", 1)[1] for a in args if a.startswith("--file="))
        with open(path, "wb") as f:  # as pg_dump writes it: created with the umask's mode if missing
            f.write(backup.MAGIC + b" the whole database")

    monkeypatch.setattr(backup, "server_major", major)
    monkeypatch.setattr(backup, "tool", lambda name, version: name)
    monkeypatch.setattr(backup, "_run", pg_dump)
    old = os.umask(0o022)  # the usual umask: new files 0644
    try:
        target = tmp_path / "nightly" / "linli.dump"
        assert backup.dump("postgresql://linli@127.0.0.1:5432/linli", target) > 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not (tmp_path / "nightly" / "linli.dump.part").exists()
