// bewaar overview: small conveniences only; every page works without this script.
(() => {
  "use strict";
  const q = document.getElementById("q");
  // "/" jumps to the keyword field (as on many archive and code sites), Escape leaves it.
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if (e.key === "/" && q && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      q.focus();
      q.select();
    } else if (e.key === "Escape" && document.activeElement === q) {
      q.blur();
    }
  });
  // Empty fields are left out of the address, so a shared link shows only the filters used.
  const form = document.querySelector("form.filters");
  if (form) {
    form.addEventListener("submit", () => {
      for (const el of form.elements) {
        if (el.name && !el.value && el.tagName !== "BUTTON") el.disabled = true;
      }
    });
    window.addEventListener("pageshow", () => {
      for (const el of form.elements) el.disabled = false;
    });
  }
})();
