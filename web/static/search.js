// Results as you type on the search page, and keyboard navigation. Without this script the
// form still works: it submits to /search, which renders the same markup on the server.
(function () {
  "use strict";
  const form = document.getElementById("searchform");
  const box = document.getElementById("q");
  const region = document.getElementById("results");
  if (!form || !box || !region) return;
  const DEBOUNCE_MS = 60;
  const EXPERTS_AFTER_MS = 250;  // the experts wait for a pause in typing: they cost more than a search
  const STOP = new Set(("a an and are as at be by do does for from has have how i in is it its of on or that the " +
    "this to was what when where which who why will with you your can we our").split(" "));
  let timer = 0, inflight = null, shown = box.value.trim();

  // ---- keyboard: "/" focuses the box; up/down move through results; Enter opens (native) ----
  const links = () => Array.from(region.querySelectorAll("li.hit .hit-title a"));
  document.addEventListener("keydown", (ev) => {
    const t = ev.target, typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement;
    if (ev.key === "/" && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      box.focus();
      box.select();
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      const all = links(), at = all.indexOf(t);
      if (t !== box && at < 0) return;
      ev.preventDefault();
      const next = ev.key === "ArrowDown" ? (t === box ? 0 : Math.min(at + 1, all.length - 1)) : at - 1;
      if (next < 0) box.focus();
      else if (all[next]) all[next].focus();
    }
  });

  // ---- results as you type ----
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });

  function params() {
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) p.append(k, String(v).trim());
    return p;
  }

  async function search() {
    const q = box.value.trim();
    if (q === shown) return;
    if (inflight) inflight.abort();  // a stale request must not overwrite newer results
    if (!q) { shown = q; return; }
    const ctrl = inflight = new AbortController();
    const p = params();
    try {
      // results first (the experts take longer), then the experts for the same query
      const data = await getJSON("/api/search?" + p + "&experts=false", ctrl);
      if (ctrl !== inflight) return;
      shown = q;
      render(data, p);
      history.replaceState(null, "", "/search?" + p);
      document.title = q + " · whoknows";
      if (!data.hits || !data.hits.length) return;
      await new Promise((done) => setTimeout(done, EXPERTS_AFTER_MS));
      if (ctrl !== inflight || box.value.trim() !== q) return;  // still typing: the next query's turn
      const people = await getJSON("/api/experts?" + p, ctrl);
      const aside = ctrl === inflight && (experts(people.experts, data.query, { list: people.ask || [], note: people.routing || "" }) || nobody(people.abstained, data.query));
      if (aside) region.querySelector(".layout").append(aside);
    } catch (e) {
      if (e.name !== "AbortError") region.replaceChildren(el("p", { class: "notice", role: "alert" }, e.message));
    }
  }

  async function getJSON(url, ctrl) {
    const r = await fetch(url, { signal: ctrl.signal, headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(r.status === 503 ? "The index is empty: run `whoknows ingest` first." : "Search failed (" + r.status + ")");
    return r.json();
  }

  // ---- rendering: the same markup as search.html, built with text nodes only ----
  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, v);
    for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined && kid !== false) n.append(kid);
    return n;
  }

  function marked(text, q) {
    const terms = (q.toLowerCase().match(/[\p{L}\p{N}_]+/gu) || []).filter((t) => t.length > 1 && !STOP.has(t))
      .map((t) => (t.length > 4 && t.endsWith("s") ? t.slice(0, -1) : t).replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    if (!terms.length) return [text];
    const re = new RegExp("(?<![\\p{L}\\p{N}_])(" + terms.join("|") + ")[\\p{L}\\p{N}_]*", "giu");
    const out = [];
    let last = 0;
    for (const m of text.matchAll(re)) {
      out.push(text.slice(last, m.index), el("mark", {}, m[0]));
      last = m.index + m[0].length;
    }
    out.push(text.slice(last));
    return out;
  }

  function link(p, changes) {
    const n = new URLSearchParams(p);
    n.delete("page");
    for (const [k, v] of Object.entries(changes)) if (v === null) n.delete(k); else n.set(k, v);
    return "/search?" + n;
  }

  // as web/security.py safe_url: a source's link may not be javascript: or data:
  function safeUrl(u) {
    const m = /^([a-z][a-z0-9+.-]*):/i.exec((u || "").replace(/[\x00-\x20\x7f]/g, ""));
    return u && (!m || ["http", "https", "mailto"].includes(m[1].toLowerCase())) ? u : "";
  }

  function docLink(id, q, chunk) {
    return "/doc/" + id.split("/").map(encodeURIComponent).join("/") + "?q=" + encodeURIComponent(q) +
      (chunk === undefined ? "" : "#c" + chunk);
  }

  function hit(h, q) {
    const authors = h.authors.map((a, i) => [i ? ", " : "", el("a", { class: "author", href: "/people/" + a.id }, a.name)]);
    return el("li", { class: "hit", "data-doc-id": h.doc_id },
      el("h2", { class: "hit-title" }, el("a", { href: docLink(h.doc_id, q, h.chunk_id) }, h.title)),
      h.heading && el("div", { class: "heading" }, h.heading),
      el("p", { class: "snippet" }, marked(h.snippet, q)),
      el("div", { class: "hit-meta" },
        el("span", { class: "badge source" }, h.source), " ", el("span", { class: "badge kind" }, h.kind), " ",
        authors.length ? el("span", { class: "authors" }, "by ", authors) : null, " ",
        h.updated_at && el("time", { datetime: h.updated_at }, h.updated_at.slice(0, 10)), " ",
        safeUrl(h.url) && el("a", { class: "original", href: safeUrl(h.url), rel: "noopener" }, "original"), " ",
        el("a", { class: "similar", href: "/search?like=" + encodeURIComponent(h.doc_id) }, "more like this")));
  }

  function facets(data, p) {
    const groups = Object.entries(data.facets || {}).map(([name, counts]) => el("div", { class: "facet-group", "data-facet": name },
      el("span", { class: "facet-name" }, name),
      Object.entries(counts).map(([value, n]) => el("a", {
        class: "facet", "data-facet": name,
        href: name === "year" ? link(p, { since: value + "-01-01", until: value + "-12-31" }) : link(p, { [name]: value }),
      }, value + " ", el("span", { class: "count" }, String(n))))));
    return groups.length ? el("nav", { class: "facets", "aria-label": "Refine" }, groups) : null;
  }

  function nobody(abstained, q) {  // nobody has a receipt on the query: say so, offer the ask page
    if (!abstained) return null;
    return el("aside", { class: "experts abstained", "aria-labelledby": "experts-h" }, el("h2", { id: "experts-h" }, "Who knows"),
      el("p", { class: "nobody", id: "nobody", role: "status" }, abstained.message),
      el("p", {}, "Nobody has a page, post or answer on it that matches well enough to vouch for them. ",
        el("a", { id: "ask-instead", href: abstained.ask + "?q=" + encodeURIComponent(q) }, "Ask it as a question"),
        ": the question is noted as a knowledge gap, so someone can write it down."));
  }

  function askPeople(ask, q) {  // whom to ask, fairly routed (search/asking.py); the panel keeps the evidence order
    if (!ask || !ask.list.length) return null;
    return el("section", { class: "ask-people", id: "ask-people", "data-query": q, "aria-labelledby": "ask-people-h" },
      el("h3", { id: "ask-people-h" }, "Whom to ask"),
      el("ul", {}, ask.list.map((a) => el("li", {},
        el("a", { class: "ask-person", "data-person-id": a.person.id, href: a.link }, "Ask " + a.person.name),
        a.rising ? [" ", el("span", { class: "badge rising" }, "rising contributor")] : null))),
      el("p", { class: "meta routing-note" }, ask.note));
  }

  function experts(list, q, ask) {
    if (!list || !list.length) return null;
    return el("aside", { class: "experts", "aria-labelledby": "experts-h" }, el("h2", { id: "experts-h" }, "Who knows"),
      el("ol", {}, list.map((e) => el("li", { class: "expert", "data-person-id": e.person.id },
        el("a", { class: "expert-name", href: "/people/" + e.person.id }, e.person.name), " ",
        el("span", { class: "strength band-" + e.band, title: "strength " + e.strength.toFixed(2) }, e.band + " evidence"),
        el("p", { class: "reason" }, e.reason),
        el("ul", { class: "receipts" }, e.evidence.map((ev) => el("li", {},
          el("a", { href: docLink(ev.doc_id, q) }, ev.title), " ",
          el("span", { class: "meta" }, ev.role + (ev.at ? " · " + ev.at.slice(0, 7) : "")))))))),
      askPeople(ask, q));
  }

  function noResults(data, p) {
    const alts = (data.help && data.help.rephrasings) || [];
    return el("section", { class: "no-results", id: "no-results" },
      el("h1", {}, "Nothing found for ", el("q", {}, data.query)),
      alts.length ? [el("p", {}, "Try:"), el("ul", { class: "rephrasings", id: "rephrasings" },
        alts.map((a) => el("li", {}, el("a", { href: "/search?q=" + encodeURIComponent(a) }, a))))] : null,
      el("p", {}, el("a", { href: "/ask?q=" + encodeURIComponent(data.query) }, "Ask it as a question"),
        " — if nobody wrote it down, the people on the right are the most likely to know."));
  }

  function chips(p) {
    const active = [...p].filter(([k]) => k !== "q" && k !== "page");
    if (!active.length) return null;
    return el("p", { class: "active-filters", id: "active-filters" }, "Filtered by ", active.map(([k, v]) => {
      const rest = new URLSearchParams([...p].filter(([k2, v2]) => !(k2 === k && v2 === v)));
      return el("a", { class: "chip", href: "/search?" + rest, "aria-label": "remove filter " + k + " " + v },
        k + ": " + v + " ", el("span", { "aria-hidden": "true" }, "×"));
    }));
  }

  function render(data, p) {
    const q = data.query, hits = data.hits || [];
    const pager = el("nav", { class: "pager", "aria-label": "Pages" },
      data.has_more ? el("a", { rel: "next", href: link(p, { page: String(data.page + 1) }) }, "Next →") : null);
    region.replaceChildren(...[
      el("p", { class: "meta", id: "summary" }, hits.length ? "Results for " : "No results for ", el("q", {}, q),
        " ", el("span", { class: "took" }, "(" + Math.round(data.took_ms) + " ms)")),
      chips(p),
      el("div", { class: "layout" },
        el("div", { class: "results-col" }, facets(data, p),
          hits.length ? [el("ol", { class: "hits" }, hits.map((h) => hit(h, q))), pager] : noResults(data, p)),
        experts(data.help && data.help.experts, q))].filter(Boolean));
    const live = document.getElementById("live-status");  // announced by screen readers
    if (live) live.textContent = (hits.length ? hits.length + (data.has_more ? "+" : "") : "No") + " results for " + q;
    region.dispatchEvent(new CustomEvent("whoknows:rendered", { detail: { query: q } }));
  }
})();
