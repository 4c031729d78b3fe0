// Fair routing's record: when an "ask" link whoknows suggested (or "Ask them") is followed, the
// people it asks are counted as asked this week (POST /api/asked with the page's CSRF token),
// so loads and weekly caps are real. One listener on the document also sees links that
// search.js renders later.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="whoknows-csrf"]');
  if (!meta) return;
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a.ask-person[data-person-id], a[data-person-ids]");
    if (!a) return;
    const ids = a.dataset.personIds ? a.dataset.personIds.split(" ").filter(Boolean) : [a.dataset.personId];
    const box = a.closest("[data-query]");
    const query = (a.dataset.query || (box && box.dataset.query) || new URLSearchParams(location.search).get("q") || "").trim();
    if (!ids.length || !query) return;
    fetch("/api/asked", {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": meta.content },
      body: JSON.stringify({ query, person_ids: ids }),
    }).catch(() => {});
  });
})();
