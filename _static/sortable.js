// Click a column header of any table with class "sortable" to sort its rows (again to reverse).
// Numbers sort numerically ("72.34 ± 1.20" sorts by 72.34, "1,031,674" by its value); "–" sorts last.
(function () {
  function key(cell) {
    var t = (cell ? cell.textContent : "").trim();
    var m = t.replace(/,/g, "").match(/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?/);
    return m ? { num: parseFloat(m[0]), text: t } : { num: null, text: t };
  }
  function compare(a, b) {
    if (a.num !== null && b.num !== null) return a.num - b.num;
    if (a.num !== null) return -1;
    if (b.num !== null) return 1;
    if (a.text === "–" || a.text === "") return 1;
    if (b.text === "–" || b.text === "") return -1;
    return a.text.localeCompare(b.text);
  }
  function setup(table) {
    var head = table.tHead;
    var body = table.tBodies[0];
    if (!head || !body) return;
    var row = head.rows[head.rows.length - 1];
    Array.prototype.forEach.call(row.cells, function (th, col) {
      th.style.cursor = "pointer";
      th.title = "click to sort";
      th.addEventListener("click", function () {
        var asc = th.getAttribute("data-sort") !== "asc";
        Array.prototype.forEach.call(row.cells, function (o) { o.removeAttribute("data-sort"); });
        th.setAttribute("data-sort", asc ? "asc" : "desc");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c = compare(key(r1.cells[col]), key(r2.cells[col]));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(setup);
  });
})();
