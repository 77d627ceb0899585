// openami dashboard: sortable tables (no dependencies, shipped in the package).
// Click a heading of a table with class "sortable" to sort its body rows by that column;
// click again to reverse. Cells may carry data-sort with the value to sort by; rows with
// class "total" stay at the bottom.
(function () {
  "use strict";
  function key(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    var num = parseFloat(raw.replace(/[,\s%]/g, ""));
    return isNaN(num) || !/^[-+\d.,\s%]+$/.test(raw) ? raw.toLowerCase() : num;
  }
  function sortBy(table, column, th) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var descending = th.getAttribute("aria-sort") === "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    var fixed = rows.filter(function (r) { return r.classList.contains("total"); });
    var moving = rows.filter(function (r) { return !r.classList.contains("total"); });
    moving.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      var cmp = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
      return descending ? -cmp : cmp;
    });
    moving.concat(fixed).forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  // Parts rendered later (a cold cache): <div data-src="/fragment"> is replaced by the
  // server-rendered HTML fragment at that address.
  function loadParts() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-src]"), function (el) {
      fetch(el.getAttribute("data-src"), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
        .then(function (html) { el.innerHTML = html; el.removeAttribute("data-src"); el.setAttribute("data-loaded", "true"); })
        .catch(function () { el.setAttribute("data-failed", "true"); el.querySelector("p").textContent = document.body.getAttribute("data-load-failed") || "Could not load."; });
    });
  }
  function init() {
    loadParts();
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      if (!table.tHead) { return; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
        th.classList.add("sort");
        th.setAttribute("tabindex", "0");
        th.addEventListener("click", function () { sortBy(table, column, th); });
        th.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, column, th); }
        });
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
