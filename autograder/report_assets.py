"""The report page's inline style and script (autograder/report_render.py puts them in the page).

The script sorts the tables (``table.sortable``: a click on a header, again to reverse), filters the
students table by a bar of a score histogram (``area[data-a]``), and opens the per-student view at
``#student=<id>`` from the JSON in ``#report-data``. It writes a student's text with ``textContent``
only, never as markup.
"""

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; }
td.id, td.reason { white-space: nowrap; }
.plots img { margin: 0.3em 1em 0.3em 0; vertical-align: top; }
.none { color: #777; }
ul.messages { margin: 0; padding-left: 1.2em; }
nav { margin: 1em 0; line-height: 1.6; }
th button.sort { font: inherit; font-weight: bold; background: none; border: 0; padding: 0; cursor: pointer; }
th[aria-sort="ascending"] button.sort::after { content: " \\25B2"; }
th[aria-sort="descending"] button.sort::after { content: " \\25BC"; }
td.result { white-space: nowrap; }
tr.failed td.result { color: #b03030; }
tr.not-attempted td.result { color: #777; }
#filter { background: #fff6d5; padding: 0.4em 0.8em; }
dialog#student-view { width: min(60em, 92vw); max-height: 88vh; overflow: auto; border: 1px solid #999; }
dialog#student-view::backdrop { background: rgba(0, 0, 0, 0.3); }
dialog#student-view .close { float: right; }
.mistake { font-weight: bold; }
"""

# Sorting, the histogram filter and the per-student view; the data is the JSON above it, shown as text only.
SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  function make(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function number(text) { return text === "" ? -Infinity : Number(text); }
  function key(cell) { var v = cell.getAttribute("data-v"); return v !== null ? v : cell.textContent.trim(); }

  // Sortable tables: a click on a header sorts by its column, a second click reverses.
  function sortBy(table, column, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var numeric = rows.every(function (r) { var k = key(r.cells[column]); return k === "" || !isNaN(Number(k)); });
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      var d = numeric ? number(x) - number(y) : x.localeCompare(y);
      if (d !== d) d = 0;
      return ascending ? d : -d;
    });
    each(th.parentNode.cells, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (r) { body.appendChild(r); });
  }
  each(document.querySelectorAll("table.sortable"), function (table) {
    each(table.tHead.rows[0].cells, function (th, column) {
      var button = make("button", null, "sort");
      button.type = "button";
      button.title = "sort by this column";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () { sortBy(table, column, th); });
    });
  });

  // A bar of a score histogram shows its students in the students table.
  var students = document.getElementById("students-table"), note = document.getElementById("filter");
  function showAll() {
    each(students.tBodies[0].rows, function (r) { r.hidden = false; });
    note.hidden = true;
  }
  each(document.querySelectorAll("area[data-a]"), function (area) {
    area.addEventListener("click", function () {
      var a = area.getAttribute("data-a"), lo = Number(area.getAttribute("data-lo"));
      var hi = Number(area.getAttribute("data-hi")), shown = 0;
      each(students.tBodies[0].rows, function (r) {
        var v = r.querySelector('td[data-a="' + a + '"]').getAttribute("data-v");
        var hit = v !== "" && Number(v) >= lo && Number(v) < hi;
        r.hidden = !hit;
        if (hit) shown += 1;
      });
      note.querySelector("span").textContent = shown + " of " + students.tBodies[0].rows.length +
        " students, with a score in " + data.assignments[a].name + " from " + lo + " to under " + hi + ". ";
      note.hidden = false;
    });
  });
  note.querySelector("button").addEventListener("click", showAll);

  // The per-student view: report.html#student=<id>.
  var view = document.getElementById("student-view"), body = document.getElementById("student-body");
  var RESULT = ["passed", "failed", "not attempted"];
  function links(list) {
    var span = make("span");
    (list || []).forEach(function (href) {
      var a = make("a", decodeURIComponent(href.split("/").pop()));
      a.href = href;
      span.appendChild(document.createTextNode(" "));
      span.appendChild(a);
    });
    return span;
  }
  function show(name) {
    var s = data.students[name];
    if (!s) return false;
    body.textContent = "";
    body.appendChild(make("h2", name));
    var got = 0, outOf = 0, named = [];
    data.assignments.forEach(function (a, i) {
      if (s.scores[i] !== null) got += s.scores[i];
      outOf += a.max;
    });
    body.appendChild(make("p", "Total: " + got + " / " + outOf));
    if (s.flags.length) {
      body.appendChild(make("h3", "Flags"));
      var ul = body.appendChild(make("ul"));
      s.flags.forEach(function (f) {
        var li = ul.appendChild(make("li", (f[0] === null ? "" : f[0] + " ") + "[" + f[1] + "]: " + f[2]));
        if (f[0] !== null) li.appendChild(links(s.feedback[data.index[f[0]]]));
      });
    }
    var mistakesList = make("ul");
    data.assignments.forEach(function (a, i) {
      var h = make("h3", a.name + ": " + (s.scores[i] === null ? "no grade" : s.scores[i] + " / " + a.max));
      body.appendChild(h);
      if (s.feedback[i] && s.feedback[i].length) {
        var p = body.appendChild(make("p", "Feedback:"));
        p.appendChild(links(s.feedback[i]));
      }
      var results = s.tests[i];
      if (!results) { body.appendChild(make("p", "No autograded notebook.", "none")); return; }
      var table = body.appendChild(make("table")), head = table.createTHead().insertRow();
      ["test", "points", "score", "result", "message"].forEach(function (t) { head.appendChild(make("th", t)); });
      var tbody = table.appendChild(make("tbody"));
      a.tests.forEach(function (t, j) {
        var r = results[j], row = tbody.insertRow();
        row.appendChild(make("td", t[0], "id"));
        row.appendChild(make("td", t[1], "num"));
        if (!r) { row.appendChild(make("td", "-", "num")); row.appendChild(make("td", "not run", "result")); return; }
        row.className = RESULT[r[1]].replace(" ", "-");
        row.appendChild(make("td", r[0], "num"));
        row.appendChild(make("td", RESULT[r[1]], "result"));
        row.appendChild(make("td", r[2] || ""));
        if (r[3]) {
          named.push(r[3]);
          mistakesList.appendChild(make("li", a.name + ", " + t[0] + ": " + r[3]));
        }
      });
    });
    var heading = make("h3", "Named mistakes");
    body.insertBefore(heading, body.children[2]);
    body.insertBefore(named.length ? mistakesList : make("p", "none", "none"), heading.nextSibling);
    if (!view.open) view.showModal();
    view.scrollTop = 0;
    return true;
  }
  function route() {
    var hash = location.hash;
    if (hash.indexOf("#student=") === 0 && show(decodeURIComponent(hash.slice(9)))) return;
    if (view.open) view.close();
  }
  document.addEventListener("click", function (event) {
    var a = event.target.closest && event.target.closest('a[href^="#student="]');
    if (a && location.hash === a.getAttribute("href")) { event.preventDefault(); route(); }
  });
  view.querySelector("button.close").addEventListener("click", function () { view.close(); });
  view.addEventListener("close", function () {
    if (location.hash.indexOf("#student=") === 0) history.replaceState(null, "", "#students");
  });
  window.addEventListener("hashchange", route);
  route();
})();
"""
