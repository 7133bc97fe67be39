// In-page helpers for bewaar's behaviours. Installed once per document as window.__bewaar;
// Python drives them step by step so that every step can wait for the network to go quiet.
(() => {
  if (window.__bewaar) return;

  const frames = (n) => new Promise((resolve) => {
    // Sync to animation frames so layout and IntersectionObservers have run; fall back to a
    // timer where frames are throttled (a page in the background).
    let left = n;
    const timer = setTimeout(resolve, 250 * n);
    const step = () => {
      left -= 1;
      if (left <= 0) { clearTimeout(timer); resolve(); } else requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });

  const visible = (el) => {
    if (!el || !el.isConnected) return false;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const s = getComputedStyle(el);
    return s.visibility !== "hidden" && s.display !== "none" && s.opacity !== "0";
  };

  const label = (el) => (el.innerText || el.getAttribute("aria-label") || el.value || "")
    .replace(/\s+/g, " ").trim();

  const samePage = (href) => {
    try {
      const u = new URL(href, location.href);
      if (u.protocol === "javascript:") return true;
      return u.href.split("#")[0] === location.href.split("#")[0];
    } catch (e) { return false; }
  };

  // The scrolling element: the document, or the largest scrollable box when the page
  // keeps its timeline in an inner scroller.
  const scroller = () => {
    const doc = document.scrollingElement || document.documentElement;
    if (doc.scrollHeight > innerHeight + 10) return doc;
    let best = null;
    for (const el of document.querySelectorAll("body *")) {
      const s = getComputedStyle(el);
      if (!/(auto|scroll)/.test(s.overflowY)) continue;
      if (el.scrollHeight > el.clientHeight + 10 && (!best || el.scrollHeight > best.scrollHeight)) best = el;
    }
    return best || doc;
  };

  let guardInstalled = false;
  let mutations = 0;
  new MutationObserver((list) => { mutations += list.length; })
    .observe(document.documentElement, { childList: true, subtree: true, characterData: true });
  let nextId = 0;

  const api = {
    mutations() { return mutations; },

    // Two animation frames: the page has acted on what just came back (rendered it, and
    // asked for the images and follow-ups it names).
    async frames() { await frames(2); },

    // Keep behaviours from navigating away: clicks on links to other documents and form
    // submits are cancelled while behaviours run.
    guard(on) {
      window.__bewaarGuard = !!on;
      if (guardInstalled) return;
      guardInstalled = true;
      document.addEventListener("click", (e) => {
        if (!window.__bewaarGuard) return;
        const a = e.target.closest && e.target.closest("a[href]");
        if (a && !samePage(a.href)) e.preventDefault();
      }, true);
      document.addEventListener("submit", (e) => { if (window.__bewaarGuard) e.preventDefault(); }, true);
    },

    metrics() {
      const s = scroller();
      const top = s === document.documentElement || s === document.scrollingElement ? scrollY : s.scrollTop;
      return { height: s.scrollHeight, top: top, view: s.clientHeight || innerHeight };
    },

    async scrollStep(fraction) {
      const s = scroller();
      const by = Math.max(200, Math.floor((s.clientHeight || innerHeight) * fraction));
      if (s === document.documentElement || s === document.scrollingElement) window.scrollBy(0, by);
      else s.scrollTop += by;
      await frames(2);
      return api.metrics();
    },

    async scrollTo(y) {
      const s = scroller();
      if (s === document.documentElement || s === document.scrollingElement) window.scrollTo(0, y);
      else s.scrollTop = y;
      await frames(2);
      return api.metrics();
    },

    // Mark clickable controls whose text or selector says "more"; returns how many.
    markControls(patterns, selectors) {
      const rx = patterns.map((p) => new RegExp(p, "i"));
      const found = new Set();
      for (const sel of selectors) {
        try { document.querySelectorAll(sel).forEach((el) => found.add(el)); } catch (e) { /* bad selector */ }
      }
      const candidates = document.querySelectorAll(
        "button, [role=button], summary, a:not([href]), a[href^='#'], a[href^='javascript:'], a[href]"
      );
      for (const el of candidates) {
        const text = label(el);
        if (!text || text.length > 80) continue;
        if (el.tagName === "A" && el.hasAttribute("href") && !samePage(el.href)) continue;
        if (rx.some((r) => r.test(text))) found.add(el);
      }
      // A control may be clicked again while it keeps changing the page ("load more"
      // buttons that stay); one whose click changed nothing is done.
      const out = [];
      for (const el of found) {
        if (el.dataset.bewaarDone || el.disabled || el.getAttribute("aria-disabled") === "true") continue;
        if (!visible(el)) continue;
        if (!el.dataset.bewaarId) el.dataset.bewaarId = String(++nextId);
        out.push({ id: el.dataset.bewaarId, text: label(el).slice(0, 80) });
      }
      return out;
    },

    controlDone(id) {
      const el = document.querySelector(`[data-bewaar-id="${id}"]`);
      if (el) el.dataset.bewaarDone = "1";
    },

    // Overlays: click close/accept controls inside dialogs and fixed layers, remove what
    // has no control, and give the page its scrolling back.
    async closeOverlays(patterns, closeSelectors, removeSelectors) {
      const rx = patterns.map((p) => new RegExp(p, "i"));
      let acted = 0;
      for (const sel of closeSelectors) {
        let els = [];
        try { els = document.querySelectorAll(sel); } catch (e) { continue; }
        for (const el of els) if (visible(el)) { el.click(); acted++; }
      }
      const layers = [...document.querySelectorAll("[role=dialog], [aria-modal=true], dialog, body *")]
        .filter((el) => {
          if (!visible(el)) return false;
          const s = getComputedStyle(el);
          return el.matches("[role=dialog], [aria-modal=true], dialog") ||
            ((s.position === "fixed" || s.position === "sticky") && parseInt(s.zIndex || "0", 10) > 0);
        });
      for (const layer of layers) {
        for (const b of layer.querySelectorAll("button, [role=button], a[href^='#'], a:not([href])")) {
          const t = label(b);
          if (t && t.length <= 40 && rx.some((r) => r.test(t)) && visible(b)) { b.click(); acted++; break; }
        }
      }
      for (const sel of removeSelectors) {
        try { document.querySelectorAll(sel).forEach((el) => { el.remove(); acted++; }); } catch (e) { /* */ }
      }
      if (acted) {
        for (const el of [document.documentElement, document.body]) {
          if (el && getComputedStyle(el).overflow === "hidden") el.style.overflow = "auto";
        }
      }
      await frames(2);
      return acted;
    },

    // Play every audio/video muted to its end, fast, so the player loads all of it (MSE
    // players fetch their chunks only as playback proceeds). Looping media plays once; media
    // that stops advancing for stallMs is left as it is. Bounded by maxWaitMs.
    async playMedia(maxWaitMs, stallMs) {
      const media = [...document.querySelectorAll("video, audio")];
      await Promise.all(media.map((m) => new Promise((resolve) => {
        let done = false;
        const looped = m.loop;
        let last = -1;
        let lastMove = Date.now();
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          clearInterval(watch);
          try { m.pause(); m.loop = looped; } catch (e) { /* */ }
          resolve();
        };
        const timer = setTimeout(finish, maxWaitMs);
        const watch = setInterval(() => {
          if (m.currentTime !== last) { last = m.currentTime; lastMove = Date.now(); }
          else if (Date.now() - lastMove > stallMs) finish();
        }, 250);
        m.addEventListener("ended", finish, { once: true });
        m.addEventListener("error", finish, { once: true });
        m.muted = true;
        m.loop = false;
        try {
          m.preload = "auto";
          m.playbackRate = 16;
          const p = m.play();
          if (p && p.catch) p.catch(() => finish());
        } catch (e) { finish(); }
      })));
      return media.length;
    },

    // Every URL a viewer on another screen could load: all srcset candidates, lazy-load
    // sources, media sources and posters. Fetched whole so replay never lacks one.
    resourceUrls() {
      const urls = new Set();
      const add = (u) => {
        if (!u) return;
        try {
          const abs = new URL(u.trim(), document.baseURI).href;
          if (abs.startsWith("http")) urls.add(abs);
        } catch (e) { /* */ }
      };
      const srcset = (v) => (v || "").split(",").forEach((part) => add(part.trim().split(/\s+/)[0]));
      document.querySelectorAll("img, source").forEach((el) => {
        srcset(el.getAttribute("srcset"));
        srcset(el.dataset.srcset);
        add(el.dataset.src);
        if (el.tagName === "SOURCE") add(el.getAttribute("src"));
      });
      document.querySelectorAll("video, audio").forEach((m) => {
        add(m.currentSrc || m.getAttribute("src"));
        if (m.tagName === "VIDEO") add(m.getAttribute("poster"));
      });
      return [...urls];
    },

    async fetchAll(urls, concurrency) {
      const queue = [...urls];
      const results = {};
      const worker = async () => {
        while (queue.length) {
          const u = queue.shift();
          try {
            const same = new URL(u).origin === location.origin;
            const r = await fetch(u, { credentials: "include", cache: "no-store", mode: same ? "same-origin" : "no-cors" });
            await r.arrayBuffer();
            results[u] = r.status;
          } catch (e) { results[u] = String(e); }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return results;
    },

    pendingImages() {
      return [...document.images].filter((i) => i.src && !i.complete && i.loading !== "lazy").length;
    },

    links() {
      return [...document.querySelectorAll("a[href]")].map((a) => a.href).filter((h) => h.startsWith("http"));
    },
  };
  window.__bewaar = api;
})();
