/* The leader's dashboard beside the map: an export of the filtered cases, today's counts, this month's evaluation
   per department and street, the most overdue open cases and cases per day. Text enters the page as text nodes
   only. The figures are refreshed on live events. */
(function () {
  "use strict";

  function el(tag, cls, text) { return window.citygrid.el(tag, cls, text); }  /* citygrid.js: text nodes only */
  function T(key) { return window.citygrid.T(key); }

  function get(path) {
    return fetch(path, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }

  var NONE = "—";  /* nothing due yet: no rate, no score (docs/evaluation.md) */

  function pct(v) { return v === null || v === undefined ? NONE : Math.round(v * 100) + "%"; }

  function figures(today) {
    var box = el("div", "figures");
    [["sc_reported", today.reported], ["sc_dispatched", today.dispatched], ["sc_closed", today.closed],
     ["sc_open", today.open], ["sc_overdue", today.overdue]].forEach(function (f, i) {
      var cell = el("div", i === 4 ? "overdue" : null);
      cell.appendChild(el("b", null, f[1]));
      cell.appendChild(el("span", null, T(f[0])));
      box.appendChild(cell);
    });
    return box;
  }

  function ranking(evaluation) {
    var table = el("table");
    var head = el("tr");
    ["sc_name", "sc_due", "sc_on_time", "sc_score"].forEach(function (h) { head.appendChild(el("th", null, T(h))); });
    table.appendChild(head);
    /* units with something due, by score, then those with work but nothing due yet (score —) */
    evaluation.rows.filter(function (r) { return r.current.due || r.current.dispatched || r.current.reported; })
      .sort(function (a, b) { return (b.current.score === null ? -1 : b.current.score) -
                                     (a.current.score === null ? -1 : a.current.score); })
      .slice(0, 12).forEach(function (r) {
        var tr = el("tr");
        tr.dataset.code = r.code;
        [r.name, r.current.due, pct(r.current.on_time_rate), r.current.score].forEach(function (v) {
          tr.appendChild(el("td", null, v === null || v === undefined ? NONE : v));
        });
        table.appendChild(tr);
      });
    return table;
  }

  function overdueList(rows) {
    if (!rows.length) return el("p", "none", T("mp_none"));
    var list = el("ol");
    rows.forEach(function (c) {
      var item = el("li");
      var link = el("a", null, "#" + c.id);
      link.href = "/cases/" + c.id;
      item.appendChild(link);
      item.appendChild(document.createTextNode(" " + c.category_name + " · "));
      var department = el("span", null, c.department_name || c.department_code || "");
      if (c.department_code) department.title = c.department_code;  /* the name shown, the code on hover */
      item.appendChild(department);
      item.appendChild(document.createTextNode(" · " + T("sc_overdue") + " " + c.hours_overdue + " " + T("sc_hours")));
      list.appendChild(item);
    });
    return list;
  }

  var chart = null;  /* one chart at a time: the one drawn before is disposed (else each refresh leaks one) */

  function trendChart(box, trend) {
    if (!window.echarts) return;
    if (chart) chart.dispose();
    chart = window.echarts.init(box, null, { renderer: "svg" });
    chart.setOption({
      animation: false, grid: { left: 30, right: 8, top: 20, bottom: 20 }, legend: { top: 0, textStyle: { fontSize: 11 } },
      xAxis: { type: "category", data: trend.map(function (d) { return d.day.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: T("sc_reported"), type: "line", data: trend.map(function (d) { return d.reported; }) },
               { name: T("sc_closed"), type: "line", data: trend.map(function (d) { return d.closed; }) }]
    });
  }

  function render(panel, data, byDepartment, byStreet) {
    panel.textContent = "";
    panel.appendChild(el("h3", null, T("sc_today") + " " + data.date));
    panel.appendChild(figures(data.today));
    panel.appendChild(el("h3", null, T("sc_trend")));
    var trend = el("div", "trend");
    panel.appendChild(trend);
    panel.appendChild(el("h3", null, T("sc_rank_departments") + " " + byDepartment.period));
    panel.appendChild(ranking(byDepartment));
    panel.appendChild(el("h3", null, T("sc_rank_streets") + " " + byStreet.period));
    panel.appendChild(ranking(byStreet));
    panel.appendChild(el("h3", null, T("sc_most_overdue")));
    panel.appendChild(overdueList(data.top_overdue));
    trendChart(trend, data.trend);
    window.citygrid.dashboard = data;
    window.citygrid.dashboardLoads = (window.citygrid.dashboardLoads || 0) + 1;
    window.citygrid.evaluation = { department: byDepartment, street: byStreet };
  }

  /* the map's street filter (filters.js), for the figures too */
  function streetQuery() {
    var f = window.citygridFilters ? window.citygridFilters.state() : {};
    return f.street ? "street=" + encodeURIComponent(f.street) : "";
  }

  /* The figures of a dashboard (the map's and the wall screen's), asked for on every refresh: today's counts, the
     most overdue and the trend come from the rollups (a few ms at 1M cases) and are asked for each time; the
     month's rankings are two evaluations that read every tenure of the month (about half a second at 1M cases of
     a busy year), so they are asked for again only after RANKING_SHARE times their last load time (at least a
     second, at most RANKING_MAX) or when the month or the street changes: a dashboard spends at most
     1/RANKING_SHARE of its time waiting on them, and a small city's rankings still follow every change within a
     second or two. When it gives rankings that are behind, it calls `again` once they are due (one timer), so
     the last change of a quiet spell reaches the rankings too. */
  var RANKING_SHARE = 20;
  var RANKING_MAX = 60000;

  function figuresLoader(again) {
    var rankings = null, key = null, due = 0, catchUp = null;
    return function (street) {
      return get("/api/dashboard?" + street).then(function (data) {
        var month = data.date.slice(0, 7), want = month + "&" + street;  /* the deployment's month */
        clearTimeout(catchUp);
        if (rankings && key === want && Date.now() < due) {
          catchUp = setTimeout(again, due - Date.now() + 50);
          return [data, rankings];
        }
        var started = Date.now();
        return Promise.all([get("/api/evaluation?by=department&period=" + month + "&" + street),
                            get("/api/evaluation?by=street&period=" + month + "&" + street)])
          .then(function (r) {
            rankings = r;
            key = want;
            due = Date.now() + Math.min(RANKING_MAX, Math.max(1000, RANKING_SHARE * (Date.now() - started)));
            window.citygrid.rankingLoads = (window.citygrid.rankingLoads || 0) + 1;
            return [data, r];
          });
      });
    };
  }

  var figuresOf = null;

  function load(panel) {
    figuresOf = figuresOf || figuresLoader(function () { load(panel); });
    return figuresOf(streetQuery()).then(function (r) { render(panel, r[0], r[1][0], r[1][1]); })
      .catch(function (e) { panel.textContent = T("mp_dashboard_failed") + " " + e.message; });
  }

  var FORMATS = [["csv", "CSV"], ["xlsx", "Excel (XLSX)"], ["geojson", "GeoJSON"], ["gpkg", "GeoPackage"]];

  /* /api/export with the map's filters as they are now (filters.js); the server keeps to the reader's scope */
  function exportUrl(format) {
    var q = "format=" + encodeURIComponent(format);
    var f = window.citygridFilters ? window.citygridFilters.state() : {};
    Object.keys(f).forEach(function (k) { if (f[k] !== "") q += "&" + k + "=" + encodeURIComponent(f[k]); });
    return "/api/export?" + q;
  }

  /* A format choice and a download link whose URL is built when clicked, so it carries the current filters.
     It sits outside the figures, which are redrawn on live events, so the choice is kept. */
  function exportControl() {
    var box = el("div", "citygrid-export");
    box.appendChild(el("span", null, T("mp_export")));
    var format = el("select");
    format.name = "export-format";
    format.setAttribute("aria-label", T("mp_export_format"));
    FORMATS.forEach(function (f) { var opt = el("option", null, f[1]); opt.value = f[0]; format.appendChild(opt); });
    var link = el("a", "citygrid-export-link", T("mp_download"));
    link.setAttribute("download", "");
    link.href = exportUrl(format.value);
    link.addEventListener("click", function () {
      link.href = exportUrl(format.value);
      window.citygrid.exportUrl = link.href;
    });
    box.appendChild(format);
    box.appendChild(link);
    return box;
  }

  /* Collapsed, the dashboard is a tab at the map's edge and covers no case. */
  function setCollapsed(panel, collapsed) {
    var T = window.citygrid.T, button = panel.querySelector(".citygrid-dash-toggle");
    panel.classList.toggle("collapsed", collapsed);
    button.textContent = collapsed ? T("mp_show") : T("mp_hide");
    button.setAttribute("aria-expanded", String(!collapsed));
    window.citygrid.dashboardCollapsed = collapsed;
  }

  function collapseButton(panel) {
    var button = el("button", "citygrid-dash-toggle");
    button.type = "button";
    button.addEventListener("click", function () { setCollapsed(panel, !panel.classList.contains("collapsed")); });
    return button;
  }

  var timer = null;
  window.citygridDashboard = {
    get: get, ranking: ranking, overdueList: overdueList, pct: pct, figuresLoader: figuresLoader,
    start: function (container) {
      var panel = el("div", "citygrid-dash");
      var figures = el("div", null, "…");
      panel.appendChild(collapseButton(panel));
      panel.appendChild(exportControl());
      panel.appendChild(figures);
      container.appendChild(panel);
      setCollapsed(panel, container.offsetWidth < 700);  /* on a phone the dashboard starts as a tab */
      L.DomEvent.disableScrollPropagation(panel);
      L.DomEvent.disableClickPropagation(panel);
      load(figures);
      return function refresh() {  /* at most once a second: a burst reloads once, a steady stream still reloads */
        if (timer) return;
        timer = setTimeout(function () { timer = null; load(figures); }, 1000);
      };
    }
  };
})();
