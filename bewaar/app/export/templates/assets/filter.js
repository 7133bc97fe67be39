// Client-side filters over the export's items (no server, no network): words, account,
// platform, status, publication date range, replies on/off. Data: assets/items.js.
(function () {
  "use strict";
  var items = {};
  (window.BEWAAR_EXPORT || { items: [] }).items.forEach(function (i) { items[i.key] = i; });
  var $ = function (id) { return document.getElementById(id); };
  var fold = function (s) { return (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); };
  function apply() {
    var words = fold($("f-q").value).split(/\s+/).filter(Boolean);
    var acc = $("f-account").value, plat = $("f-platform").value, st = $("f-status").value;
    var from = $("f-from").value, to = $("f-to").value, replies = $("f-replies").checked;
    var shown = 0;
    document.querySelectorAll("#items tbody tr").forEach(function (tr) {
      var i = items[tr.dataset.key] || {};
      var hay = fold([i.text, i.title, i.account, i.author, i.url].join(" "));
      var ok = words.every(function (w) { return hay.indexOf(w) >= 0; }) &&
        (!acc || tr.dataset.account === acc) && (!plat || tr.dataset.platform === plat) &&
        (!st || tr.dataset.status === st) && (!from || tr.dataset.day >= from) &&
        (!to || (tr.dataset.day && tr.dataset.day <= to)) && (replies || tr.dataset.reply === "0");
      tr.hidden = !ok;
      if (ok) shown++;
    });
    $("f-count").textContent = shown + " / " + Object.keys(items).length;
  }
  ["f-q", "f-account", "f-platform", "f-status", "f-from", "f-to", "f-replies"].forEach(function (id) {
    $(id).addEventListener("input", apply);
    $(id).addEventListener("change", apply);
  });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); apply(); });
  apply();
})();
