// name: campaign_save
// Records a campaign ('latteprov plan'): $campaign (its name), $source (the file it was planned from),
// $document (the validated campaign as JSON text: steps, command templates, resources), with
// the time. Re-planning replaces the document (commands and resources may change).
MERGE (c:Campaign {name: $campaign})
SET c.source = $source, c.document = $document, c.planned_at = datetime()
RETURN c.name AS name

// name: campaigns
// Every campaign: name, source, document (JSON text), planned_at.
MATCH (c:Campaign)
RETURN c.name AS name, c.source AS source, c.document AS document, toString(c.planned_at) AS planned_at
ORDER BY name

// name: existing_entities
// Which of the entity uids $uids exist (a dry run's 'already in the graph').
UNWIND $uids AS u
MATCH (n:Entity {uid: u})
RETURN collect(u) AS uids

// name: frontier
// The ready-to-run frontier of the campaign steps $steps ('<campaign>/<step>' values), per step
// and ensemble ($ensemble, or every one when null): products of the step that are planned,
// failed, or done but invalid and due for recomputation, whose inputs (DERIVED_FROM) are all
// done and valid. A done product is due when it is invalid while its inputs are valid (so it is
// itself the root of an invalidation that holds) and no run that made it started after its
// latest invalidation (a recomputation awaiting revalidation is not due again). Returns step,
// ensemble, ready (the count) and products (the first $limit by name: uid, name, kind, state,
// valid, why = planned | failed | recompute). Steps with nothing ready return no row.
UNWIND $steps AS step
CALL (step) {
  MATCH (p:Entity {campaign_step: step})
  WHERE ($ensemble IS NULL OR p.ensemble = $ensemble)
    AND (p.state IN ['planned', 'failed'] OR (p.state = 'done' AND p.valid = false))
    AND NOT EXISTS { MATCH (p)-[:DERIVED_FROM]->(i:Entity) WHERE i.state <> 'done' OR i.valid = false }
  WITH p, CASE p.state WHEN 'done' THEN 'recompute' ELSE p.state END AS why
  WHERE why <> 'recompute' OR NOT EXISTS {
    MATCH (p)-[:GENERATED_BY]->(r:Run)
    WHERE all(at IN [(p)-[:INVALIDATED_BY]->(e:Invalidation {action: 'invalidate'}) | e.at] WHERE r.started_at > at)
  }
  RETURN p, why
}
WITH step, p.ensemble AS ensemble, p, why ORDER BY p.name
RETURN step, ensemble, count(p) AS ready,
       collect(p {.uid, .name, .kind, .state, .valid, why: why})[..$limit] AS products

// name: step_states
// Products of the campaign steps $steps in state $state (queued or running), per step and
// ensemble: step, ensemble, count. Found through the state index, so it costs what is queued.
MATCH (p:Entity {state: $state})
WHERE p.campaign_step IN $steps
RETURN p.campaign_step AS step, p.ensemble AS ensemble, count(*) AS count

// name: take_tasks_lock
// Serialises 'latteprov tasks write' runs: taken first and held to commit, so two runs never
// both find a product ready and write it twice. Only task writing takes it (before the tally
// lock), so it cannot deadlock with the write path.
MERGE (l:Lock {name: 'tasks'})
SET l.tick = coalesce(l.tick, 0) + 1

// name: task_products
// What a task file needs of the products $uids: uid, name, kind, state, valid, step (their
// campaign_step), props (every property) and inputs [{role, uid, name}].
UNWIND $uids AS u
MATCH (p:Entity {uid: u})
RETURN p.uid AS uid, p.name AS name, p.kind AS kind, p.state AS state, p.valid AS valid,
       p.campaign_step AS step, properties(p) AS props,
       [(p)-[d:DERIVED_FROM]->(i:Entity) | {role: d.role, uid: i.uid, name: i.name}] AS inputs

// name: downstream_step_products
// Products of campaign steps derived, transitively, from the products $uids (which are about to
// be recomputed) and done or failed: their data was made from what is being remade. uid, state.
UNWIND $uids AS u
MATCH (:Entity {uid: u})<-[:DERIVED_FROM]-+(d:Entity)
WHERE d.campaign_step IS NOT NULL AND d.state IN ['done', 'failed']
RETURN DISTINCT d.uid AS uid, d.state AS state

// name: tasks_record
// Records the task files just written: $rows [{uid, name, metaq, folder, campaign_step,
// products}] (a task written again under the same name is updated).
UNWIND $rows AS r
MERGE (t:Task {uid: r.uid})
SET t.name = r.name, t.metaq = r.metaq, t.folder = r.folder, t.campaign_step = r.campaign_step,
    t.products = r.products, t.written_at = datetime()
RETURN count(t) AS tasks

// name: tasks_of
// The task files written to the METAQ directory $metaq: uid, name, folder, products.
MATCH (t:Task {metaq: $metaq})
RETURN t.uid AS uid, t.name AS name, t.folder AS folder, t.products AS products
ORDER BY name

// name: tasks_delete
// Forgets the Task nodes $uids (their files are gone, or were never put in place).
UNWIND $uids AS u
MATCH (t:Task {uid: u})
DETACH DELETE t
RETURN count(*) AS deleted

// name: entity_states
// uid, name and state of each entity of $uids that exists.
UNWIND $uids AS u
MATCH (p:Entity {uid: u})
RETURN p.uid AS uid, p.name AS name, p.state AS state

// name: advance_states
// Moves the entities $uids to $state where that is forward in the order $rank (a task's
// product seen working becomes running; nothing done or failed moves back). Returns moved.
UNWIND $uids AS u
MATCH (p:Entity {uid: u})
WHERE coalesce($rank[p.state], -1) < $rank[$state]
SET p.state = $state
RETURN collect(p.uid) AS moved

// name: step_products
// Products of the campaign step $step ('<campaign>/<step>') on the configurations $configs
// (null: every configuration): uid, name, state, valid, ensemble, config; by name.
MATCH (p:Entity {campaign_step: $step})
WHERE $configs IS NULL OR p.config IN $configs
RETURN p.uid AS uid, p.name AS name, p.state AS state, p.valid AS valid, p.ensemble AS ensemble, p.config AS config
ORDER BY name
