-- A fixed sqlite3 workload for bench/run_workloads.py (run against :memory:).
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t(a, b, c) SELECT (i * 7919) % 100003, printf('row-%d-%x', i, (i * 2654435761) % 4294967296), i * 0.5 FROM n;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), max(length(b)) FROM t;
SELECT a % 100 AS k, count(*), avg(c) FROM t GROUP BY k ORDER BY k LIMIT 5;
UPDATE t SET b = b || '-u' WHERE a % 3 = 0;
DELETE FROM t WHERE a % 5 = 0;
SELECT count(*) FROM t AS x JOIN t AS y ON x.a = y.a AND x.id < y.id;
VACUUM;
SELECT count(*) FROM t;
