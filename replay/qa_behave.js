// In-page helpers for `bewaar qa`: make a replayed page show what its capture showed. The page
// info record says what the crawler did (overlays closed, the "more" controls it clicked, by
// their label); these helpers do the same in replay. Installed once per document.
(() => {
  if (window.__bewaarQA) return;

  const visible = (el) => {
    if (!el || !el.isConnected) return false;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const s = getComputedStyle(el);
    return s.visibility !== "hidden" && s.display !== "none" && s.opacity !== "0";
  };
  const label = (el) => (el.innerText || el.getAttribute("aria-label") || el.value || "")
    .replace(/\s+/g, " ").trim();
  const frames = () => new Promise((r) => { setTimeout(r, 300); requestAnimationFrame(() => requestAnimationFrame(r)); });

  // the document, or the largest inner scroller when the page keeps its content in one
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
  const isDoc = (s) => s === document.documentElement || s === document.scrollingElement;

  window.__bewaarQA = {
    metrics() {
      const s = scroller();
      return { height: s.scrollHeight, top: isDoc(s) ? scrollY : s.scrollTop, view: s.clientHeight || innerHeight };
    },
    async scrollBy(by) {
      const s = scroller();
      if (isDoc(s)) window.scrollBy(0, by); else s.scrollTop += by;
      await frames();
      return this.metrics();
    },
    async scrollTo(y) {
      const s = scroller();
      if (isDoc(s)) window.scrollTo(0, y); else s.scrollTop = y;
      await frames();
      return this.metrics();
    },
    async closeOverlays(patterns) {
      const rx = patterns.map((p) => new RegExp(p, "i"));
      let acted = 0;
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
      await frames();
      return acted;
    },
    // click the first visible, enabled control with exactly this label (as the crawler did)
    async click(text) {
      const els = document.querySelectorAll("button, [role=button], summary, a");
      for (const el of els) {
        if (el.disabled || el.getAttribute("aria-disabled") === "true" || !visible(el)) continue;
        if (label(el).slice(0, 80) !== text) continue;
        el.scrollIntoView({ block: "center" });
        el.click();
        await frames();
        return true;
      }
      return false;
    },
    async imagesLoaded(ms) {
      await Promise.all([...document.images].map((i) => i.complete ? 0 : new Promise((r) => {
        i.addEventListener("load", r, { once: true });
        i.addEventListener("error", r, { once: true });
        setTimeout(r, ms);
      })));
      return document.images.length;
    },
  };
})();
