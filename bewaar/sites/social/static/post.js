// Replies behind a button: each click GETs the next page with a cache-busting parameter.
(function () {
  "use strict";
  const btn = document.getElementById("more-replies");
  if (!btn) return;
  const list = document.getElementById("replies");
  let page = 2;
  btn.addEventListener("click", async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    const resp = await fetch("/api/replies?post=" + btn.dataset.post + "&page=" + page + "&_=" + Date.now());
    const data = await resp.json();
    for (const r of data.replies) {
      const div = document.createElement("div");
      div.className = "reply";
      div.dataset.id = r.id;
      div.textContent = r.author + ": " + r.text;
      list.appendChild(div);
    }
    page += 1;
    if (data.has_more) btn.disabled = false;
    else btn.remove();
  });
})();
