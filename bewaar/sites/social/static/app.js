// A timeline rendered by JavaScript from a POST API, like the large platforms do it:
// every request carries a random nonce and the client clock, pages follow an opaque cursor,
// and the next page loads when an IntersectionObserver sees the bottom of the list.
(function () {
  "use strict";
  const account = document.body.dataset.account;
  const list = document.getElementById("timeline");
  const sentinel = document.getElementById("sentinel");
  let cursor = null;
  let loading = false;
  let done = false;

  function nonce() {
    return Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  }

  function renderPost(p) {
    const art = el("article", { class: "post", "data-id": p.id });
    const a = el("a", { class: "permalink", href: "/@" + account + "/post/" + p.id }, p.date);
    art.appendChild(a);
    art.appendChild(el("p", { class: "text" }, p.text));
    if (p.image) {
      if (p.lazy_js) {
        // JavaScript lazy loading: the real source sits in data-src until visible.
        const img = el("img", { class: "lazy", "data-src": p.image.src, alt: p.image.alt });
        lazyObserver.observe(img);
        art.appendChild(img);
      } else {
        art.appendChild(el("img", {
          loading: "lazy", src: p.image.src, srcset: p.image.srcset,
          sizes: "(max-width: 600px) 400px, 800px", alt: p.image.alt,
        }));
      }
    }
    if (p.video) {
      art.appendChild(el("video", {
        src: p.video, controls: "", preload: "metadata", playsinline: "", muted: "",
      }));
    }
    return art;
  }

  const lazyObserver = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) {
        e.target.src = e.target.dataset.src;
        lazyObserver.unobserve(e.target);
      }
    }
  }, { rootMargin: "100px" });

  async function loadMore() {
    if (loading || done) return;
    loading = true;
    sentinel.textContent = "Loading…";
    try {
      const resp = await fetch("/api/timeline", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          account: account, cursor: cursor, count: 10, nonce: nonce(), client_ts: Date.now(),
        }),
      });
      const data = await resp.json();
      for (const p of data.posts) list.appendChild(renderPost(p));
      cursor = data.next_cursor;
      if (!cursor) {
        done = true;
        sentinel.textContent = "No more posts";
        observer.disconnect();
      } else {
        sentinel.textContent = "";
      }
    } finally {
      loading = false;
    }
    if (!done) {
      // re-arm: if the sentinel is still in view, the observer fires again
      observer.unobserve(sentinel);
      observer.observe(sentinel);
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "200px" });

  fetch("/api/profile?handle=" + account + "&_=" + Date.now())
    .then((r) => r.json())
    .then((p) => {
      document.getElementById("name").textContent = p.name;
      document.getElementById("bio").textContent = p.bio;
      document.getElementById("followers").textContent = p.followers;
    });

  observer.observe(sentinel);

  const consent = document.querySelector(".consent");
  if (consent) {
    consent.querySelector("button").addEventListener("click", () => consent.remove());
  }
})();
