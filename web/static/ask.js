// Streams a generated answer into the page; the server's final event replaces it with the
// checked answer (or the extractive fallback when the model's citations did not hold up).
(function () {
  const box = document.querySelector(".answer-box[data-stream=on]");
  const q = new URLSearchParams(location.search).get("q");
  if (!box || !q || !window.EventSource) return;
  const target = document.getElementById("answer");
  let streamed = "";
  const es = new EventSource("/api/ask/stream?q=" + encodeURIComponent(q));
  es.addEventListener("token", (ev) => {
    streamed += JSON.parse(ev.data);
    target.textContent = streamed;
  });
  es.addEventListener("answer", (ev) => {
    const a = JSON.parse(ev.data);
    es.close();
    if (a.generated) target.textContent = a.answer;
    else location.reload();  // the server-rendered extractive answer stands
  });
  es.onerror = () => es.close();
})();
