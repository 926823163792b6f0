// Suggestions for the search box: entities whose name contains what the user types (anywhere), as they type.
(function () {
  const input = document.getElementById("search");
  const list = document.getElementById("search-suggestions");
  if (!input || !list) return;
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) return;
    timer = setTimeout(async () => {
      const response = await fetch(input.dataset.suggest + "?q=" + encodeURIComponent(q));
      if (!response.ok) return;
      const rows = await response.json();
      list.replaceChildren(...rows.map((row) => {
        const option = document.createElement("option");
        option.value = row.name || row.uid;
        option.label = [row.kind, row.ensemble, ...(row.details || [])].filter(Boolean).join(" · ");
        return option;
      }));
    }, 150);
  });
})();
