// name: fail_unfinished_runs
// Runs whose spool has a 'started' event and no end (the job was killed, at its wall-clock
// limit as a rule): $rows [{uid, ended_at}] with ended_at the last event the spool saw.
// A run that has ended meanwhile (recorded online or by another spool) is left alone; the
// products it generated that are still running become failed. Returns the runs marked.
UNWIND $rows AS r
MATCH (run:Run {uid: r.uid})
WHERE run.exit_state = 'running'
SET run.exit_state = 'failed', run.ended_at = r.ended_at
WITH run
OPTIONAL MATCH (p:Entity)-[:GENERATED_BY]->(run)
WHERE p.state = 'running'
SET p.state = 'failed'
RETURN count(DISTINCT run) AS failed
