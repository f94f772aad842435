#!/usr/bin/env python3
"""Checks that a database the mirror wrote on Debian's clickhouse-server 18.16 works the same
on a current ClickHouse release, embedded through chdb (PyPI: `pip install chdb`).

For every table of the database: its DDL as the 18.16 server holds it is created in chdb, its
rows are copied over in RowBinary (the format the mirror inserts), and then every statement the
mirror and its docs run is asked of both servers and the answers compared: the reconcile's
`GROUP BY ... sum(sign)`, `FINAL`, the archive's resume queries and the column check.

Usage: first mirror something, e.g.
    wardstream run --replay ../shared/data --fast --exit-at-end --clickhouse http://127.0.0.1:8123
then
    python3 scripts/clickhouse-compat.py [--url http://127.0.0.1:8123] [--database wardstream]
Exits 1 if any answer differs or a statement fails on the current release.
"""

import argparse
import sys
import tempfile
import urllib.parse
import urllib.request


def old(url, sql, raw=False):
    req = urllib.request.Request(url + "/?" + urllib.parse.urlencode({"query": sql}), method="POST")
    with urllib.request.urlopen(req) as resp:
        body = resp.read()
    return body if raw else body.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8123")
    ap.add_argument("--database", default="wardstream")
    args = ap.parse_args()
    import chdb.session

    db = args.database
    new = chdb.session.Session(tempfile.mkdtemp(prefix="wardstream-chdb-"))
    version = new.query("SELECT version()", "TSV").bytes().decode().strip()
    print(f"18.16 server: {old(args.url, 'SELECT version()').strip()}; current: chdb {version}")
    new.query(f"CREATE DATABASE IF NOT EXISTS {db}")
    tables = old(args.url, f"SELECT name FROM system.tables WHERE database = '{db}' ORDER BY name").split()
    failures = []
    views = []
    for t in tables:
        ddl = old(args.url, f"SHOW CREATE TABLE {db}.`{t}`", raw=False).strip()
        # TSV escapes the statement's newlines and quotes.
        ddl = ddl.encode().decode("unicode_escape")
        new.query(ddl)
        cols = [line.split("\t")[:2] for line in old(args.url, f"DESCRIBE TABLE {db}.`{t}`").splitlines()]
        structure = ", ".join(f"`{n}` {ty}" for n, ty in cols)
        names = [n for n, _ in cols]
        # A view's rows in the order they were written (run, then frontier): collapsing
        # follows insertion order, and the copy is one insert, whose rows the server sorts
        # stably by key, as it does the mirror's (a buffer can hold a row and, from a later
        # take, its retraction).
        order = " ORDER BY run_id, frontier" if "sign" in names else ""
        data = old(args.url, f"SELECT * FROM {db}.`{t}`{order} FORMAT RowBinary", raw=True)
        with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
            f.write(data)
        # One copy of a whole table spans more days than the 100 partitions the mirror keeps
        # each insert to.
        new.query(
            f"INSERT INTO {db}.`{t}` SELECT * FROM file('{f.name}', RowBinary, '{structure}') "
            "SETTINGS max_partitions_per_insert_block = 0"
        )
        if "sign" in names:
            views.append((t, names[: names.index("sign")]))
        print(f"  {t}: {len(data)} bytes copied")

    def same(what, sql):
        a = old(args.url, sql + " FORMAT TSV")
        try:
            b = new.query(sql, "TSV").bytes().decode()
        except Exception as e:  # noqa: BLE001 - report any failure of the current release
            failures.append(f"{what}: fails on the current release: {e}")
            return
        if a != b:
            failures.append(f"{what}: answers differ ({len(a)} vs {len(b)} bytes)")
        else:
            print(f"  same answer ({a.count(chr(10))} rows): {what}")

    for t, cols in views:
        c = ", ".join(f"`{x}`" for x in cols)
        same(f"{t} reconcile", f"SELECT {c}, toInt64(sum(sign)) AS n FROM {db}.`{t}` GROUP BY {c} HAVING n != 0 ORDER BY {c}")
        same(f"{t} FINAL", f"SELECT {c} FROM {db}.`{t}` FINAL ORDER BY {c}")
        same(f"{t} columns", f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = '{t}' ORDER BY name")
    same("archive progress", f"SELECT share, max(seq), any(shares) FROM {db}.archive_progress GROUP BY share ORDER BY share")
    same("archive positions", f"SELECT share, seq, shares FROM {db}.raw_events WHERE seq > 0 ORDER BY share, seq")
    same("ingest letters", f"SELECT stream, raw FROM {db}.dead_letters WHERE seq = 0 ORDER BY stream, raw")
    same("events per stream and day", f"SELECT stream, toInt32(floor(event_time / 86400000)) AS day, count() FROM {db}.raw_events GROUP BY stream, day ORDER BY stream, day")
    same("in-flight inserts", "SELECT toUInt64(count()) FROM system.processes WHERE substring(query_id, 1, 11) = 'wardstream-'")
    for f in failures:
        print("DIFFERS:", f)
    print(f"{len(failures)} differences")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
