// name: scan_files
// DataFiles to check: those of host $host (or recorded without a host) whose path is one of
// $paths or lies under one of them; every file of the host when $paths is empty.
// Returns uid, path, expected_size.
MATCH (f:DataFile)
WHERE (f.host = $host OR f.host = '')
  AND (size($paths) = 0 OR any(p IN $paths WHERE f.path = p OR f.path STARTS WITH p + '/'))
RETURN f.uid AS uid, f.path AS path, f.expected_size AS expected_size

// name: update_file_status
// Sets what a scan found. $rows: [{uid, status, size, mtime, checked_at}]; size and mtime
// only when the file was seen on disk; the products stored there get their file_statuses
// refreshed (what the status report counts). Returns how many files were updated.
UNWIND $rows AS r
MATCH (f:DataFile {uid: r.uid})
SET f.status = r.status, f.checked_at = r.checked_at,
    f.size = coalesce(r.size, f.size), f.mtime = coalesce(r.mtime, f.mtime)
WITH f
CALL (f) {
  MATCH (p:Entity)-[:STORED_AT]->(f)
  SET p.file_statuses = COLLECT { MATCH (p)-[:STORED_AT]->(g:DataFile) WHERE g.status IS NOT NULL RETURN g.status }
}
RETURN count(f) AS updated
