// Thumbs up / down on each result, answer and suggested person, and the open beacon, on the
// search page, the ask page and the bookmarklet window. Buttons are added to whatever markup
// is on the page (server-rendered, or rendered later by search.js); a vote is sent with the
// page's CSRF token and shown as pressed without reloading the page.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="whoknows-csrf"]');
  if (!meta) return;
  const csrf = meta.content;
  const query = () => (new URLSearchParams(location.search).get("q") || "").trim();
  const status = document.getElementById("live-status") || (() => {
    const p = document.createElement("p");
    p.className = "visually-hidden";
    p.setAttribute("aria-live", "polite");
    document.body.append(p);
    return p;
  })();

  function post(url, body, keepalive) {
    return fetch(url, {
      method: "POST", keepalive: !!keepalive, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
    });
  }

  function buttons(kind, id, label) {
    const box = document.createElement("span");
    box.className = "votes";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Was this helpful?");
    for (const [vote, text, name] of [[1, "👍", "Helpful"], [-1, "👎", "Not helpful"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "vote " + (vote > 0 ? "up" : "down");
      b.dataset.vote = String(vote);
      b.setAttribute("aria-pressed", "false");
      b.setAttribute("aria-label", name + ": " + label);
      b.title = name;
      b.textContent = text;
      b.addEventListener("click", () => send(box, kind, id, vote));
      box.append(b);
    }
    return box;
  }

  async function send(box, kind, id, vote) {
    const q = query();
    if (!q) return;
    const body = { kind, query: q, vote };
    body[kind === "expert" ? "person_id" : "doc_id"] = id;
    try {
      const r = await post("/api/feedback", body);
      if (!r.ok) throw new Error(r.status === 403 ? "this page has expired; reload it" : "status " + r.status);
      for (const b of box.querySelectorAll("button.vote")) b.setAttribute("aria-pressed", String(b.dataset.vote === String(vote)));
      status.textContent = "Thanks, your vote was recorded.";
    } catch (e) {
      status.textContent = "Your vote was not recorded: " + e.message;
    }
  }

  function decorate(root) {
    for (const li of root.querySelectorAll("li.hit[data-doc-id]")) {
      if (li.querySelector(".votes")) continue;
      const a = li.querySelector(".hit-title a");
      (li.querySelector(".hit-meta") || li).append(buttons("result", li.dataset.docId, a ? a.textContent : "result"));
    }
    for (const li of root.querySelectorAll("li.expert[data-person-id]")) {
      if (li.querySelector(".votes")) continue;
      const a = li.querySelector(".expert-name");
      const at = li.querySelector(".reason") || a;
      at.after(buttons("expert", li.dataset.personId, a ? a.textContent : "person"));
    }
    for (const box of root.querySelectorAll(".answer-box[data-answer-doc]")) {
      if (box.querySelector(":scope > .votes")) continue;
      const answer = box.querySelector("#answer");
      (answer || box).after(buttons("answer", box.dataset.answerDoc, "this answer"));
    }
  }

  // the open beacon: which result of which query was opened, at what rank
  function opened(ev) {
    const a = ev.target instanceof Element && ev.target.closest("li.hit[data-doc-id] .hit-title a");
    if (!a || (ev.type === "auxclick" && ev.button !== 1)) return;
    const li = a.closest("li.hit"), list = li.closest("ol");
    const rank = Array.from(list.children).indexOf(li) + (parseInt(list.getAttribute("start") || "1", 10) || 1);
    const q = query();
    if (q) post("/api/click", { query: q, doc_id: li.dataset.docId, rank }, true).catch(() => {});
  }
  document.addEventListener("click", opened, true);
  document.addEventListener("auxclick", opened, true);

  decorate(document);
  new MutationObserver(() => decorate(document)).observe(document.body, { childList: true, subtree: true });
})();
