// name: status_scan
// Completion per (ensemble, kind) in one pass over the entities: the status report while the
// tallies are not complete, the source of a recount, the tallies' reference in tests. Counts
// by state, invalid ones, and their files by status, read from each entity's file_statuses
// (kept by the write path and by scan; an entity without a file adds to no file column).
// $ensemble: a tag, or null for every ensemble (shared parameter sets have none).
MATCH (n:Entity)
WHERE $ensemble IS NULL OR n.ensemble = $ensemble
WITH n.ensemble AS ensemble, n.kind AS kind, n.state AS state, n.valid AS valid,
     coalesce(n.file_statuses, []) AS files
RETURN ensemble, kind,
       count(*) AS total,
       count(CASE WHEN state = 'planned' THEN 1 END) AS planned,
       count(CASE WHEN state = 'queued' THEN 1 END) AS queued,
       count(CASE WHEN state = 'running' THEN 1 END) AS running,
       count(CASE WHEN state = 'done' THEN 1 END) AS done,
       count(CASE WHEN state = 'failed' THEN 1 END) AS failed,
       count(CASE WHEN valid = false THEN 1 END) AS invalid,
       sum(size([s IN files WHERE s = 'on_disk'])) AS on_disk,
       sum(size([s IN files WHERE s = 'on_tape'])) AS on_tape,
       sum(size([s IN files WHERE s = 'missing'])) AS missing,
       sum(size([s IN files WHERE s = 'wrong_size'])) AS wrong_size,
       sum(size([s IN files WHERE s = 'unknown'])) AS unknown
ORDER BY ensemble, kind
