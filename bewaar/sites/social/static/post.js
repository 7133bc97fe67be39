// A post page that is only a shell, like the large platforms': the post comes from
// GET /api/status/N?_=<clock>, its replies from GET /api/status/N/replies?page=P&_=<clock>,
// and more replies load behind a "more" button. The post's URL is a prefix of its replies'.
(function () {
  "use strict";
  const main = document.getElementById("post");
  const list = document.getElementById("replies");
  const account = document.body.dataset.account;
  const n = main.dataset.status;
  let page = 1;
  let btn = null;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  }

  function renderPost(p) {
    const art = el("article", { class: "post", "data-id": p.id });
    art.appendChild(el("a", { class: "permalink", href: "/@" + account + "/post/" + p.id }, p.date));
    art.appendChild(el("p", { class: "text" }, p.text));
    if (p.image) {
      art.appendChild(el("img", {
        loading: "lazy", src: p.image.src, srcset: p.image.srcset,
        sizes: "(max-width: 600px) 400px, 800px", alt: p.image.alt,
      }));
    }
    if (p.video) art.appendChild(el("video", { src: p.video, controls: "", preload: "metadata" }));
    main.appendChild(art);
  }

  async function loadReplies() {
    if (btn) btn.disabled = true;
    const resp = await fetch("/api/status/" + n + "/replies?page=" + page + "&_=" + Date.now());
    const data = await resp.json();
    for (const r of data.replies) {
      list.appendChild(el("div", { class: "reply", "data-id": r.id }, r.author + ": " + r.text));
    }
    page += 1;
    if (data.has_more && !btn) {
      btn = el("button", { id: "more-replies", type: "button" }, main.dataset.moreLabel);
      btn.addEventListener("click", (ev) => { ev.preventDefault(); loadReplies(); });
      list.after(btn);
    } else if (btn && data.has_more) {
      btn.disabled = false;
    } else if (btn) {
      btn.remove();
    }
  }

  fetch("/api/status/" + n + "?_=" + Date.now())
    .then((r) => r.json())
    .then(renderPost)
    .then(loadReplies);
})();
