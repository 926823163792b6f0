// name: status
// Completion per (ensemble, kind) in one pass: entity counts by state, invalid ones, and the
// STORED_AT files of those entities by status (an entity without a file adds to no file
// column). $ensemble: a tag, or null for every ensemble (shared parameter sets have none).
MATCH (n:Entity)
WHERE $ensemble IS NULL OR n.ensemble = $ensemble
OPTIONAL MATCH (n)-[:STORED_AT]->(f:DataFile)
WITH n.ensemble AS ensemble, n.kind AS kind, n, f.status AS file
RETURN ensemble, kind,
       count(DISTINCT n) AS total,
       count(DISTINCT CASE WHEN n.state = 'planned' THEN n END) AS planned,
       count(DISTINCT CASE WHEN n.state = 'running' THEN n END) AS running,
       count(DISTINCT CASE WHEN n.state = 'done' THEN n END) AS done,
       count(DISTINCT CASE WHEN n.state = 'failed' THEN n END) AS failed,
       count(DISTINCT CASE WHEN n.valid = false THEN n END) AS invalid,
       count(CASE WHEN file = 'on_disk' THEN 1 END) AS on_disk,
       count(CASE WHEN file = 'on_tape' THEN 1 END) AS on_tape,
       count(CASE WHEN file = 'missing' THEN 1 END) AS missing,
       count(CASE WHEN file = 'wrong_size' THEN 1 END) AS wrong_size,
       count(CASE WHEN file = 'unknown' THEN 1 END) AS unknown
ORDER BY ensemble, kind
