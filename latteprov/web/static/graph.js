// The graph browser: draws the bounded neighbourhood the API returns, keeps the view in the URL.
(function () {
  "use strict";
  const app = document.getElementById("graph-app");
  if (!app) return;
  if (window.cytoscapeDagre && !window.cytoscape.prototype.hasDagre) {
    window.cytoscape.use(window.cytoscapeDagre);
    window.cytoscape.prototype.hasDagre = true;
  }

  // Colour per kind: products warm, parameter sets cool, configurations green.
  const KIND_COLOURS = {
    Ensemble: "#1b7837", GaugeConfig: "#5aae61", GaugeAction: "#9970ab", LinkSmearing: "#c2a5cf",
    QuarkSmearing: "#c2a5cf", Hisq: "#762a83", MobiusDW: "#762a83", Source: "#a6dba0",
    OneToAll: "#2166ac", Sequential: "#4393c3", SequentialSource: "#92c5de",
    Meson2pt: "#f4a582", Baryon2pt: "#d6604d", Baryon3pt: "#b2182b", DerivedDataset: "#e08214",
  };
  const FILE_ORDER = ["missing", "wrong_size", "unknown", "on_tape", "on_disk"];  // worst first

  const view = readUrl();
  const cy = window.cytoscape({
    container: document.getElementById("cy"),
    minZoom: 0.05,
    style: [
      { selector: "node", style: {
        "background-color": "data(colour)", "label": "data(label)", "font-size": 9, "color": "#222",
        "text-wrap": "wrap", "text-valign": "bottom", "text-margin-y": 2, "width": 20, "height": 20,
        "border-width": 1, "border-color": "#555" } },
      { selector: "node.root", style: { "width": 34, "height": 34, "border-width": 3, "border-color": "#000", "font-weight": "bold" } },
      { selector: "node.expanded", style: { "border-style": "double", "border-width": 4 } },
      { selector: "node.state-planned", style: { "background-opacity": 0.3 } },
      { selector: "node.state-queued", style: { "background-opacity": 0.3, "border-color": "#56b4e9", "border-width": 3 } },
      { selector: "node.state-running", style: { "border-color": "#e69f00", "border-width": 3, "border-style": "dotted" } },
      { selector: "node.state-failed", style: { "shape": "octagon", "border-color": "#7f0000", "border-width": 3 } },
      { selector: "node.file-missing, node.file-wrong_size", style: { "shape": "triangle" } },
      { selector: "node.file-on_tape", style: { "shape": "barrel" } },
      { selector: "node.invalid", style: { "border-color": "#e00", "border-width": 4, "border-style": "dashed", "color": "#b00" } },
      { selector: "node.summary", style: {
        "shape": "round-rectangle", "background-color": "#eee", "border-color": "#888", "border-style": "dashed",
        "width": 90, "height": 24, "text-valign": "center", "text-margin-y": 0, "font-size": 10 } },
      { selector: "node:selected", style: { "overlay-color": "#fd0", "overlay-opacity": 0.35, "overlay-padding": 6 } },
      { selector: "edge", style: {
        "width": 1.2, "line-color": "#aaa", "target-arrow-color": "#aaa", "target-arrow-shape": "triangle",
        "curve-style": "bezier", "arrow-scale": 0.8, "label": "data(role)", "font-size": 7, "color": "#777",
        "text-rotation": "autorotate" } },
      { selector: "edge.to-summary", style: { "line-style": "dashed", "label": "" } },
      { selector: "edge.big", style: { "label": "", "curve-style": "straight" } },
      { selector: "node.big", style: { "min-zoomed-font-size": 7 } },
      // Zoomed out, a label shrinks to kind and physics; hovering shows the node's full name.
      { selector: "node.compact", style: { "label": "data(compact)" } },
      { selector: "node.hover", style: { "label": "data(hover)", "font-size": 11, "z-index": 99,
                                         "text-background-color": "#fff", "text-background-opacity": 0.9 } },
    ],
  });
  window.cy = cy;
  let current = null;
  // Compact labels when a label would be drawn smaller than about 8 px.
  const COMPACT_BELOW = 0.9;
  const applyZoom = () => cy.nodes().not(".summary").toggleClass("compact", cy.zoom() < COMPACT_BELOW);
  cy.on("zoom", applyZoom);
  cy.on("mouseover", "node", (event) => event.target.addClass("hover"));
  cy.on("mouseout", "node", (event) => event.target.removeClass("hover"));

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    const list = (name) => (params.get(name) || "").split(",").filter(Boolean);
    return { node: app.dataset.root, hops: parseInt(params.get("hops") || "1", 10),
             dir: params.get("dir") || "both", expand: list("expand"), open: list("open") };
  }

  function query(v) {
    const params = new URLSearchParams({ node: v.node, hops: String(v.hops) });
    if (v.dir !== "both") params.set("dir", v.dir);
    if (v.expand.length) params.set("expand", v.expand.join(","));
    if (v.open.length) params.set("open", v.open.join(","));
    return params;
  }

  // What tells one product from another, as physicists name it: configuration, source
  // position, source-sink separation, current, particle, spin, momentum, the step of a derived
  // dataset. A file stem cut in the middle hid exactly these.
  const SHORT_KIND = { Baryon3pt: "3pt", Baryon2pt: "2pt", Meson2pt: "meson", OneToAll: "prop",
                       Sequential: "seqprop", SequentialSource: "seqsrc", GaugeConfig: "cfg",
                       DerivedDataset: "data", Source: "src" };

  function physics(n) {
    const p = n.props || {};
    const parts = [];
    if (p.step) parts.push(p.step);
    if (p.particle) parts.push(p.particle);
    if (p.current) parts.push(p.current);
    if (p.tsep !== undefined && p.tsep !== null) parts.push(`tsep ${p.tsep}`);
    if (p.spin) parts.push(p.spin);
    if (p.px !== undefined && p.px !== null && (p.px || p.py || p.pz)) parts.push(`p(${p.px},${p.py},${p.pz})`);
    const where = [];
    if (p.config !== undefined && p.config !== null) where.push(`cfg ${p.stream || ""}${p.config}`);
    if (p.x !== undefined && p.x !== null && p.t !== undefined) where.push(`x${p.x}y${p.y}z${p.z}t${p.t}`);
    if (p.sources) where.push(`${String(p.sources).split("+").length} sources`);
    if (p.flow_time && n.kind === "GaugeConfig") where.push(`flow ${p.flow_time}`);
    return { what: parts.join(" "), where: where.join(" · ") };
  }

  function labels(n) {
    const { what, where } = physics(n);
    const mark = n.valid ? "" : "✗ ";
    const full = `${mark}${n.kind}${what ? " " + what : ""}` + (where ? "\n" + where : "\n" + (n.name || ""));
    const compact = `${mark}${SHORT_KIND[n.kind] || n.kind}${what ? " " + what : ""}`;
    return { label: full, compact, hover: `${n.kind}\n${n.name || n.uid}` };
  }

  function fileStatus(files) {
    return FILE_ORDER.find((status) => files && files[status]) || null;
  }

  function elements(data) {
    const els = [];
    for (const n of data.nodes) {
      const status = fileStatus(n.files);
      const classes = [`state-${n.state}`, n.valid ? "valid" : "invalid"];
      if (status) classes.push(`file-${status}`);
      if (n.uid === data.root) classes.push("root");
      if (data.expand.includes(n.uid)) classes.push("expanded");
      els.push({ group: "nodes", classes: classes.join(" "), data: {
        id: n.uid, kind: n.kind, name: n.name, state: n.state, valid: n.valid, fileStatus: status,
        colour: KIND_COLOURS[n.kind] || "#999", ...labels(n) } });
    }
    for (const s of data.summaries) {
      const id = "summary:" + s.id;
      els.push({ group: "nodes", classes: "summary", data: {
        id, summary: s.id, kind: s.kind, label: `${s.count} ${s.kind} ▸` } });
      // Inputs sit above their products: edges point from input to product.
      const [source, target] = s.dir === "up" ? [id, s.of] : [s.of, id];
      els.push({ group: "edges", classes: "to-summary", data: { id: id + ":edge", source, target } });
    }
    for (const e of data.edges) {
      els.push({ group: "edges", data: { id: `${e.to}>${e.from}:${e.role}`, source: e.to, target: e.from, role: e.role || "" } });
    }
    return els;
  }

  async function load(push) {
    const status = document.getElementById("graph-status");
    const started = performance.now();
    status.textContent = "loading…";
    document.body.dataset.graphReady = "0";
    const response = await fetch(app.dataset.api + "?" + query(view).toString());
    const data = await response.json();
    if (!response.ok) {
      status.textContent = data.error || response.statusText;
      return;
    }
    current = data;
    if (push) history.pushState(null, "", app.dataset.graphPage + "?" + query(view).toString());
    document.getElementById("hops").value = String(view.hops);
    document.getElementById("dir").value = view.dir;
    const fetched = performance.now();
    cy.batch(() => {
      cy.elements().remove();
      cy.add(elements(data));
      // Big views: no edge labels and no labels too small to read, which keeps drawing fast.
      cy.elements().toggleClass("big", cy.elements().length > 300);
    });
    // Inputs on the left, products to the right; label sizes count, so names never overlap.
    const layout = cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 6, rankSep: 70, edgeSep: 4,
                               nodeDimensionsIncludeLabels: true, animate: false, fit: true, padding: 20 });
    layout.one("layoutstop", () => {
      // Wait for the frame that draws the laid-out graph before calling the view ready.
      applyZoom();
      requestAnimationFrame(() => requestAnimationFrame(() => {
        const done = performance.now();
        window.graphTiming = { fetch: fetched - started, draw: done - fetched, total: done - started,
                               elements: cy.elements().length };
        const nodes = cy.nodes().not(".summary").length;
        status.textContent = `${nodes} nodes, ${cy.edges().not(".to-summary").length} edges` +
          (data.summaries.length ? `, ${data.summaries.length} collapsed groups` : "") +
          (data.truncated ? " — truncated at the element limit" : "");
        document.body.dataset.graphReady = "1";
      }));
    });
    layout.run();
    if (!cy.$(":selected").length) showPanel(data.root);
  }

  function link(template, uid) {
    return template.replace("__UID__", encodeURIComponent(uid));
  }

  function escapeHtml(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function table(rows) {
    return "<table class='props'>" + rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join("") + "</table>";
  }

  async function showPanel(uid) {
    const panel = document.getElementById("panel");
    const response = await fetch(link(app.dataset.nodeApi, uid) + "?format=json");
    const info = await response.json();
    if (!response.ok) { panel.textContent = info.error; return; }
    const n = info.node;
    const props = Object.entries(n.props).map(([k, v]) => [k, escapeHtml(typeof v === "object" ? JSON.stringify(v) : v)]);
    let html = `<h2>${escapeHtml(n.kind)}</h2><p class="name">${escapeHtml(n.name)}</p>`;
    html += `<p><span class="badge state-${escapeHtml(n.state)}">${escapeHtml(n.state)}</span> ` +
      (n.valid ? "<span class='badge valid'>valid</span>" : "<span class='badge invalid'>invalid</span>") + "</p>";
    html += `<p class="actions"><button type="button" id="panel-expand">Expand</button> ` +
      `<a href="${app.dataset.graphPage}?node=${encodeURIComponent(uid)}">Centre here</a> · ` +
      `<a href="${link(app.dataset.nodePage, uid)}">Node page</a> · ` +
      `<a href="${link(app.dataset.lineage, uid)}">Lineage</a> · ` +
      `<a href="${link(app.dataset.downstream, uid)}">Downstream</a></p>`;
    html += table([["uid", `<code>${escapeHtml(n.uid)}</code>`], ...props]);
    html += `<h3>Files (${info.files.length})</h3>` + (info.files.length ? "<ul>" + info.files.map((f) =>
      `<li><span class="badge file-${escapeHtml(f.status)}">${escapeHtml(f.status)}</span> ${escapeHtml(f.host)}:<code>${escapeHtml(f.path)}</code>` +
      `${f.dataset ? " <code>" + escapeHtml(f.dataset) + "</code>" : ""}${f.size != null ? " (" + escapeHtml(f.size) + " B)" : ""}</li>`).join("") + "</ul>" : "<p class='muted'>none recorded</p>");
    html += `<h3>Runs (${info.runs.length})</h3>` + (info.runs.length ? "<ul>" + info.runs.map((r) =>
      `<li>${escapeHtml(r.relation === "used_by" ? "used by" : "made by")} <a href="${link(app.dataset.nodePage, r.uid)}">${escapeHtml(r.name || r.uid)}</a> ` +
      `${escapeHtml(r.run_kind || "")} <span class="badge state-${escapeHtml(r.exit_state)}">${escapeHtml(r.exit_state)}</span> ` +
      `${escapeHtml(r.code_version || "")} ${escapeHtml(r.host || "")}</li>`).join("") + "</ul>" : "<p class='muted'>none recorded</p>");
    html += `<h3>Invalidations (${info.invalidations.length})</h3>` + (info.invalidations.length ? "<ul>" + info.invalidations.map((i) =>
      `<li><strong>${escapeHtml(i.action)}</strong>${i.active ? " (in force)" : ""} by ${escapeHtml(i.by)} at ${escapeHtml(i.at)}: ${escapeHtml(i.reason)}</li>`).join("") + "</ul>" : "<p class='muted'>none</p>");
    panel.innerHTML = html;
    document.getElementById("panel-expand").addEventListener("click", () => expand(uid));
  }

  function expand(uid) {
    if (!view.expand.includes(uid)) view.expand.push(uid);
    load(true);
  }

  cy.on("tap", "node", (event) => {
    const node = event.target;
    if (node.hasClass("summary")) {
      view.open.push(node.data("summary"));
      load(true);
    } else {
      showPanel(node.id());
    }
  });
  cy.on("dbltap", "node", (event) => {
    if (!event.target.hasClass("summary")) expand(event.target.id());
  });

  function download(blob, filename) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }
  const stem = () => "latteprov-" + (cy.$id(view.node).data("name") || view.node).replace(/[^\w.-]+/g, "_");
  document.getElementById("download-png").addEventListener("click", () =>
    download(cy.png({ output: "blob", full: true, bg: "#ffffff", scale: 2 }), stem() + ".png"));
  document.getElementById("download-json").addEventListener("click", () =>
    download(new Blob([JSON.stringify(current, null, 2)], { type: "application/json" }), stem() + ".json"));
  document.getElementById("fit").addEventListener("click", () => cy.fit(undefined, 20));
  document.getElementById("reset").addEventListener("click", () => {
    view.expand = []; view.open = []; view.hops = 1; view.dir = "both"; load(true);
  });
  document.getElementById("hops").addEventListener("change", (event) => {
    view.hops = parseInt(event.target.value, 10); load(true);
  });
  document.getElementById("dir").addEventListener("change", (event) => {
    view.dir = event.target.value; view.expand = []; view.open = []; load(true);
  });
  window.addEventListener("popstate", () => { Object.assign(view, readUrl()); load(false); });

  document.getElementById("legend").innerHTML = Object.entries(KIND_COLOURS).map(([kind, colour]) =>
    `<span class="swatch" style="background:${colour}"></span>${kind}`).join(" ") +
    " · <span class='swatch invalid-swatch'></span>invalid · faint = planned (blue ring: queued) · octagon = failed · barrel = on tape · triangle = file missing";
  load(false);
})();
