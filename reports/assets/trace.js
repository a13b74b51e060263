(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var L = D.labels, PAGE = 100;
  var F = D.firings;          // [seq, rule, mech, subject, [sheet,row,...], result, points, kind, review_id, status, assignee, text]
  var S = D.sources;          // [sheet, row, cited]
  var srcPos = {};
  for (var i = 0; i < S.length; i++) srcPos[S[i][0] + ":" + S[i][1]] = i;
  var state = {subject: "", rule: "", mech: "", sheet: "", result: "", src: "", page: 0};
  var srcState = {sheet: "", page: 0, hl: ""};

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(s, o) {
    return s.replace(/\{(\w+)\}/g, function (m, k) {
      return typeof o[k] === "number" ? String(o[k]).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : o[k];
    });
  }
  function refText(si, row) { return D.sheets[si] + "!" + row; }

  function readParams() {
    var text = location.search.slice(1);
    var h = location.hash.slice(1);
    if (h.indexOf("=") >= 0) text += "&" + h;
    text.split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("="), k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
      var v = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " "));
      if (k === "mechanism") k = "mech";
      if (k in state && k !== "page") state[k] = v;
    });
  }

  // ---- run
  function renderRun() {
    var sec = document.getElementById("run");
    sec.appendChild(el("h2", L.tr_run));
    var t = el("table", null, "kv"), tr = null;
    D.run.forEach(function (kv, i) {
      if (i % 2 === 0) { tr = el("tr"); t.appendChild(tr); }
      tr.appendChild(el("td", kv[0], "k"));
      tr.appendChild(el("td", kv[1], kv[2]));
    });
    sec.appendChild(t);
  }

  // ---- firings
  var bar, tbody, countEl, pageEl, filtered = [];
  function option(sel, value, text) { var o = el("option", text); o.value = value; sel.appendChild(o); }
  function control(name, node) { var l = el("label", name); l.appendChild(node); bar.appendChild(l); return node; }
  var inSubject, selRule, selMech, selSheet, selResult, chip;

  function renderFiringsFrame() {
    var sec = document.getElementById("firings");
    sec.appendChild(el("h2", L.tr_firings));
    bar = el("div", null, "bar");
    inSubject = control(L.ui_filter_subject, el("input"));
    inSubject.id = "f-subject";
    selRule = control(L.ui_filter_rule, el("select"));
    selRule.id = "f-rule";
    option(selRule, "", L.ui_all);
    D.rules.map(function (r) { return r; }).sort(function (a, b) { return a[0] < b[0] ? -1 : 1; })
      .forEach(function (r) { option(selRule, r[0], r[0] + " — " + r[1]); });
    selMech = control(L.ui_filter_mechanism, el("select"));
    selMech.id = "f-mechanism";
    option(selMech, "", L.ui_all);
    D.mechanisms.forEach(function (m) { option(selMech, m[0], m[1]); });
    selSheet = control(L.ui_filter_sheet, el("select"));
    selSheet.id = "f-sheet";
    option(selSheet, "", L.ui_all);
    D.sheets.forEach(function (s) { option(selSheet, s, s); });
    selResult = control(L.ui_filter_result, el("select"));
    selResult.id = "f-result";
    option(selResult, "", L.ui_all);
    D.results.forEach(function (r, i) { option(selResult, String(i), r); });
    var clear = el("button", L.ui_clear);
    clear.type = "button";
    bar.appendChild(clear);
    chip = el("span", "", "chip");
    chip.hidden = true;
    chip.addEventListener("click", function () { state.src = ""; state.page = 0; apply(); });
    bar.appendChild(chip);
    sec.appendChild(bar);
    sec.appendChild(pager("f"));
    var table = el("table", null, "fir");
    table.id = "firing-table";
    var cols = el("colgroup");
    ["seq", "rule", "mech", "subj", "src", "cited", "res", "pts", "exc", "expl"].forEach(function (c) {
      cols.appendChild(el("col", null, "c-" + c));
    });
    table.appendChild(cols);
    var head = el("tr");
    ["seq", "rule", "mechanism", "subject", "sources", "cited", "result", "points", "exception",
     "explanation"].forEach(function (k) { head.appendChild(el("th", L[k])); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    tbody = el("tbody"); table.appendChild(tbody);
    sec.appendChild(table);
    sec.appendChild(pager("f2"));

    inSubject.addEventListener("input", function () { state.subject = inSubject.value.trim(); state.page = 0; apply(); });
    selRule.addEventListener("change", function () { state.rule = selRule.value; state.page = 0; apply(); });
    selMech.addEventListener("change", function () { state.mech = selMech.value; state.page = 0; apply(); });
    selSheet.addEventListener("change", function () { state.sheet = selSheet.value; state.page = 0; apply(); });
    selResult.addEventListener("change", function () { state.result = selResult.value; state.page = 0; apply(); });
    clear.addEventListener("click", function () {
      state = {subject: "", rule: "", mech: "", sheet: "", result: "", src: "", page: 0};
      syncControls(); apply();
    });
  }

  var pagers = [];
  function pager(id) {
    var p = el("div", null, "pager");
    var prev = el("button", L.ui_prev), next = el("button", L.ui_next);
    prev.type = next.type = "button";
    var where = el("span"), count = el("span", "", "count");
    p.appendChild(prev); p.appendChild(where); p.appendChild(next); p.appendChild(count);
    prev.addEventListener("click", function () { if (state.page > 0) { state.page--; renderPage(); } });
    next.addEventListener("click", function () {
      if ((state.page + 1) * PAGE < filtered.length) { state.page++; renderPage(); }
    });
    pagers.push({where: where, count: count});
    return p;
  }

  function syncControls() {
    inSubject.value = state.subject;
    selRule.value = state.rule;
    selMech.value = state.mech;
    selSheet.value = state.sheet;
    selResult.value = state.result;
    chip.hidden = !state.src;
    if (state.src) {
      var p = state.src.split(":");
      chip.textContent = L.sources + ": " + refText(+p[0], p[1]) + " ✕";
    }
  }

  function apply() {
    var mech = -1, rule = -1, sheet = -1, result = state.result === "" ? -1 : +state.result;
    D.mechanisms.forEach(function (m, i) { if (m[0] === state.mech) mech = i; });
    D.rules.forEach(function (r, i) { if (r[0] === state.rule) rule = i; });
    D.sheets.forEach(function (s, i) { if (s === state.sheet) sheet = i; });
    var src = state.src ? state.src.split(":").map(Number) : null;
    filtered = [];
    for (var i = 0; i < F.length; i++) {
      var f = F[i];
      if (state.subject && f[3] !== state.subject) continue;
      if (state.rule && f[1] !== rule) continue;
      if (state.mech && f[2] !== mech) continue;
      if (result >= 0 && f[5] !== result) continue;
      if (state.sheet || src) {
        var hit = false, s = f[4];
        for (var j = 0; j < s.length; j += 2) {
          if (src ? (s[j] === src[0] && s[j + 1] === src[1]) : s[j] === sheet) { hit = true; break; }
        }
        if (!hit) continue;
      }
      filtered.push(i);
    }
    var parts = [];
    ["subject", "rule", "mech", "sheet", "result", "src"].forEach(function (k) {
      if (state[k]) parts.push((k === "mech" ? "mechanism" : k) + "=" + encodeURIComponent(state[k]));
    });
    if (history.replaceState && location.hash.indexOf("#src-") !== 0)
      history.replaceState(null, "", location.pathname + location.search + (parts.length ? "#" + parts.join("&") : ""));
    syncControls();
    renderPage();
  }

  var LINKS = 12;             // source links shown before a "+N" button
  function links(cell, s, from, to) {
    for (var j = from; j < to; j += 2) {
      var a = el("a", refText(s[j], s[j + 1]));
      a.href = "#src-" + s[j] + "-" + s[j + 1];
      if (j) cell.appendChild(document.createTextNode(" "));
      cell.appendChild(a);
    }
  }

  function renderPage() {
    var pages = Math.max(1, Math.ceil(filtered.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    var start = state.page * PAGE, end = Math.min(filtered.length, start + PAGE);
    if (!filtered.length) {
      var tr0 = el("tr"), td0 = el("td", L.ui_no_rows); td0.colSpan = 10; tr0.appendChild(td0); tbody.appendChild(tr0);
    }
    for (var n = start; n < end; n++) {
      var f = F[filtered[n]], tr = el("tr", null, "firing");
      tr.id = "f-" + f[0];
      tr.appendChild(el("td", f[0], "num"));
      var rule = el("td", null, "rule");
      rule.appendChild(el("div", D.rules[f[1]][0], "rid"));
      rule.appendChild(el("div", D.rules[f[1]][1], "desc"));
      tr.appendChild(rule);
      tr.appendChild(el("td", D.mechanisms[f[2]][1]));
      tr.appendChild(el("td", f[3], "subject"));
      var refs = el("td", null, "refs"), cited = el("td", null, "cited"), s = f[4];
      links(refs, s, 0, Math.min(s.length, 2 * LINKS));
      if (s.length > 2 * LINKS) {
        var more = el("button", "+" + (s.length / 2 - LINKS), "more");
        more.type = "button";
        (function (cell, list, button) {
          button.addEventListener("click", function () {
            cell.removeChild(button);
            links(cell, list, 2 * LINKS, list.length);
          });
        })(refs, s, more);
        refs.appendChild(more);
      }
      for (var j = 0; j < s.length; j += 2) {
        if (j < 10) {
          var pos = srcPos[s[j] + ":" + s[j + 1]];
          cited.appendChild(el("div", refText(s[j], s[j + 1]) + ": " + (pos === undefined ? "" : S[pos][2])));
        }
      }
      if (s.length > 10) cited.appendChild(el("div", "… +" + (s.length / 2 - 5)));
      tr.appendChild(refs);
      tr.appendChild(cited);
      tr.appendChild(el("td", D.results[f[5]], "res-" + ["adjustment", "exception", "note", "none"][f[5]]));
      var pts = el("td", f[6] === null ? "" : f[6], "num");
      if (f[6] !== null) pts.className += f[6].charAt(0) === "-" ? " neg" : (+f[6] > 0 ? " pos" : "");
      tr.appendChild(pts);
      var exc = el("td", null, "exc");
      [[7, L.kind], [8, L.review_id], [9, L.status], [10, L.assignee]].forEach(function (x) {
        if (f[x[0]]) exc.appendChild(el("div", (x[0] === 7 ? "" : x[1] + ": ") + f[x[0]], x[0] === 8 ? "rid" : ""));
      });
      tr.appendChild(exc);
      tr.appendChild(el("td", f[11]));
      tbody.appendChild(tr);
    }
    pagers.forEach(function (p) {
      p.where.textContent = fmt(L.ui_page, {p: state.page + 1, n: pages});
      p.count.textContent = fmt(L.ui_shown, {n: filtered.length, m: F.length});
    });
    var c = document.getElementById("firing-count");
    if (c) c.textContent = String(filtered.length);
  }

  // ---- why not
  function renderWhyNot() {
    var sec = document.getElementById("whynot");
    sec.appendChild(el("h2", L.tr_why_not));
    var t = el("table"), head = el("tr");
    ["dept_id", "dept_name", "mechanism", "applied", "reason"].forEach(function (k) { head.appendChild(el("th", L[k])); });
    t.appendChild(head);
    D.why_not.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (v, i) {
        var td = el("td");
        if (i === 0) {
          var a = el("a", v);
          a.href = "#subject=" + encodeURIComponent(v);
          a.addEventListener("click", function (ev) {
            ev.preventDefault();
            state = {subject: v, rule: "", mech: "", sheet: "", result: "", src: "", page: 0};
            apply();
            document.getElementById("firings").scrollIntoView();
          });
          td.appendChild(a);
        } else td.textContent = v;
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    sec.appendChild(t);
  }

  // ---- sources
  var srcBody, srcWhere, srcSel, srcFiltered = [];
  function renderSourcesFrame() {
    var sec = document.getElementById("sources");
    sec.appendChild(el("h2", L.tr_sources));
    var b = el("div", null, "bar");
    var l = el("label", L.ui_filter_sheet);
    srcSel = el("select");
    option(srcSel, "", L.ui_all);
    D.sheets.forEach(function (s) { option(srcSel, s, s); });
    l.appendChild(srcSel); b.appendChild(l);
    var prev = el("button", L.ui_prev), next = el("button", L.ui_next);
    prev.type = next.type = "button";
    srcWhere = el("span", "", "count");
    b.appendChild(prev); b.appendChild(next); b.appendChild(srcWhere);
    sec.appendChild(b);
    var t = el("table"), head = el("tr");
    ["sources", "values", ""].forEach(function (k) { head.appendChild(el("th", k ? L[k] : "")); });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    srcBody = el("tbody"); t.appendChild(srcBody);
    sec.appendChild(t);
    srcSel.addEventListener("change", function () { srcState.sheet = srcSel.value; srcState.page = 0; srcApply(); });
    prev.addEventListener("click", function () { if (srcState.page > 0) { srcState.page--; srcRender(); } });
    next.addEventListener("click", function () {
      if ((srcState.page + 1) * PAGE < srcFiltered.length) { srcState.page++; srcRender(); }
    });
  }
  function srcApply() {
    var sheet = -1;
    D.sheets.forEach(function (s, i) { if (s === srcState.sheet) sheet = i; });
    srcFiltered = [];
    for (var i = 0; i < S.length; i++) if (sheet < 0 || S[i][0] === sheet) srcFiltered.push(i);
    srcRender();
  }
  function srcRender() {
    while (srcBody.firstChild) srcBody.removeChild(srcBody.firstChild);
    var pages = Math.max(1, Math.ceil(srcFiltered.length / PAGE));
    if (srcState.page >= pages) srcState.page = pages - 1;
    var start = srcState.page * PAGE, end = Math.min(srcFiltered.length, start + PAGE);
    for (var n = start; n < end; n++) {
      var s = S[srcFiltered[n]], tr = el("tr", null, "source");
      tr.id = "src-" + s[0] + "-" + s[1];
      if (tr.id === srcState.hl) tr.className += " hl";
      tr.appendChild(el("td", refText(s[0], s[1])));
      tr.appendChild(el("td", s[2]));
      var td = el("td"), a = el("a", L.ui_cited_by);
      a.href = "#src=" + s[0] + ":" + s[1];
      (function (key) {
        a.addEventListener("click", function (ev) {
          ev.preventDefault();
          state = {subject: "", rule: "", mech: "", sheet: "", result: "", src: key, page: 0};
          apply();
          document.getElementById("firings").scrollIntoView();
        });
      })(s[0] + ":" + s[1]);
      td.appendChild(a); tr.appendChild(td);
      srcBody.appendChild(tr);
    }
    srcWhere.textContent = fmt(L.ui_page, {p: srcState.page + 1, n: pages}) + " · " +
      fmt(L.ui_sources_shown, {n: srcFiltered.length});
  }
  function showSource(hash) {
    var m = /^#src-(\d+)-(\d+)$/.exec(hash);
    if (!m) return false;
    var pos = srcPos[m[1] + ":" + m[2]];
    if (pos === undefined) return false;
    srcState.sheet = ""; srcSel.value = "";
    srcFiltered = [];
    for (var i = 0; i < S.length; i++) srcFiltered.push(i);
    srcState.page = Math.floor(pos / PAGE);
    srcState.hl = "src-" + m[1] + "-" + m[2];
    srcRender();
    var row = document.getElementById(srcState.hl);
    if (row && row.scrollIntoView) row.scrollIntoView({block: "center"});
    return true;
  }

  renderRun();
  renderFiringsFrame();
  renderWhyNot();
  renderSourcesFrame();
  readParams();
  srcApply();
  apply();
  showSource(location.hash);
  window.addEventListener("hashchange", function () {
    if (!showSource(location.hash) && location.hash.indexOf("=") >= 0) { readParams(); state.page = 0; apply(); }
  });
  document.body.setAttribute("data-ready", "1");
})();
