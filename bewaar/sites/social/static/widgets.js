// Profile widgets whose APIs share path prefixes in every way that can mislead a replay's
// prefix lookup; each request carries a cache-buster, so replay must match it fuzzily and
// must never answer it with a neighbour's response.
(function () {
  "use strict";
  const box = document.getElementById("widgets");
  const cursor = box.dataset.cursor;

  // one placeholder per widget, in a fixed order, filled when its API answers
  const slots = {};
  for (const name of ["items", "item", "feed", "feed-more", "stats", "stats-post", "tag",
                      "tag-cloud", "post", "posts"]) {
    const s = document.createElement("section");
    s.className = "widget";
    s.dataset.widget = name;
    box.appendChild(s);
    slots[name] = s;
  }

  function show(name, data) {
    slots[name].dataset.answered = data && data.widget ? data.widget : "";
    slots[name].textContent = data && data.text ? data.text : "?";
  }

  function load(name, url) {
    const sep = url.includes("?") ? "&" : "?";
    return fetch(url + sep + "_=" + Date.now())
      .then((r) => r.json())
      .then((d) => show(name, d), () => show(name, null));
  }

  const nonce = () => Math.random().toString(36).slice(2, 12);
  Promise.all([
    load("items", "/api/items"),
    load("item", "/api/items/42"),
    load("feed", "/api/feed?cursor=" + cursor),
    load("feed-more", "/api/feed/more?cursor=" + cursor),
    load("stats", "/api/stats"),
    fetch("/api/stats", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ event: "view", nonce: nonce(), client_ts: Date.now() }),
    }).then((r) => r.json()).then((d) => show("stats-post", d), () => show("stats-post", null)),
    load("tag", "/api/tag"),
    load("tag-cloud", "/api/tag-cloud"),
    load("post", "/api/post"),
    load("posts", "/api/posts"),
  ]);
})();
