/* 指挥大屏 (/screen): the map in the middle of a dark wall, today's figures and the rankings on the left, the most
   overdue cases and the 30-day trend on the right. No controls: it refreshes itself, on every live change (at most
   once a second) and every minute, for as long as it is open. Nothing it draws accumulates: the panels are redrawn
   in place, the trend is one echarts instance given new data, and a live change's pulse is removed when it ends
   (at most PULSES at once). Texts come from the page (citygrid.T); user text enters as text nodes only. */
(function () {
  "use strict";
  var EVERY = 60000;     /* a refresh every minute, whatever happens */
  var THROTTLE = 1000;   /* live changes refresh the figures at most once a second */
  var PULSE_MS = 3000;
  var PULSES = 30;

  function el(tag, cls, text) { return window.citygrid.el(tag, cls, text); }
  function T(key) { return window.citygrid.T(key); }
  function dash() { return window.citygridDashboard; }

  function section(parent, titleKey, cls) {
    var box = el("section", "sc-box " + (cls || ""));
    box.appendChild(el("h2", null, T(titleKey)));
    var body = el("div", "sc-body");
    box.appendChild(body);
    parent.appendChild(box);
    return body;
  }

  function figures(body, today) {
    body.textContent = "";
    [["sc_reported", today.reported], ["sc_dispatched", today.dispatched], ["sc_closed", today.closed],
     ["sc_open", today.open], ["sc_overdue", today.overdue]].forEach(function (f) {
      var cell = el("div", "sc-figure" + (f[0] === "sc_overdue" ? " sc-overdue" : ""));
      cell.appendChild(el("b", null, f[1]));
      cell.appendChild(el("span", null, T(f[0])));
      body.appendChild(cell);
    });
  }

  function layout(meta) {
    var root = el("div", "sc-root");
    var top = el("header", "sc-top");
    top.appendChild(el("h1", null, meta.title.split(" — ")[0] + " · " + T("sc_title")));
    var clock = el("span", "sc-clock");
    top.appendChild(clock);
    var live = el("span", "sc-live", T("sc_live"));
    top.appendChild(live);
    root.appendChild(top);
    var left = el("div", "sc-col sc-left"), right = el("div", "sc-col sc-right");
    root.appendChild(left);
    root.appendChild(right);
    document.body.appendChild(root);
    var parts = { clock: clock, live: live };
    if (!meta.dashboard) {
      left.appendChild(el("p", "sc-note", T("sc_no_figures")));
      return parts;
    }
    parts.today = section(left, "sc_today", "sc-today");
    parts.departments = section(left, "sc_rank_departments");
    parts.streets = section(left, "sc_rank_streets");
    parts.overdue = section(right, "sc_most_overdue");
    parts.trend = section(right, "sc_trend", "sc-trend");
    return parts;
  }

  var chart = null;

  function trend(body, days) {
    if (!window.echarts) return;
    if (!chart) chart = window.echarts.init(body, "dark", { renderer: "canvas" });
    var rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;  /* 1080 or 2160 alike */
    chart.setOption({
      animation: false, backgroundColor: "transparent", textStyle: { fontSize: rem },
      legend: { top: 0, itemWidth: 2 * rem, itemHeight: rem, textStyle: { fontSize: rem } },
      xAxis: { type: "category", axisLabel: { fontSize: 0.85 * rem },
               data: days.map(function (d) { return d.day.slice(5); }) },
      yAxis: { type: "value", minInterval: 1, axisLabel: { fontSize: 0.85 * rem } },
      grid: { left: "8%", right: "4%", top: "14%", bottom: "10%" },
      series: [{ name: T("sc_reported"), type: "line", data: days.map(function (d) { return d.reported; }) },
               { name: T("sc_closed"), type: "line", data: days.map(function (d) { return d.closed; }) }]
    });
  }

  function render(parts, data, byDepartment, byStreet) {
    figures(parts.today, data.today);
    parts.departments.textContent = "";
    parts.departments.appendChild(dash().ranking(byDepartment));
    parts.streets.textContent = "";
    parts.streets.appendChild(dash().ranking(byStreet));
    parts.overdue.textContent = "";
    parts.overdue.appendChild(dash().overdueList(data.top_overdue.slice(0, 8)));
    trend(parts.trend, data.trend);
    window.citygrid.screenRefreshes = (window.citygrid.screenRefreshes || 0) + 1;
    window.citygrid.dashboard = data;
  }

  var figuresOf = null;  /* dashboard.js: today's figures each time, the rankings as often as they are cheap */

  function load(parts) {
    if (!parts.today) return;
    figuresOf = figuresOf || dash().figuresLoader(function () { load(parts); });
    figuresOf("").then(function (r) { render(parts, r[0], r[1][0], r[1][1]); })
      .catch(function (e) { window.citygrid.screenError = e.message; });
  }

  /* a ring that grows and fades where a case changed; removed when it ends */
  function pulser(map) {
    var rings = L.layerGroup().addTo(map), shown = [];
    return function (c) {
      if (typeof c.lon !== "number" || typeof c.lat !== "number") return;
      var ring = L.circleMarker([c.lat, c.lon], { radius: 14, className: "sc-pulse", interactive: false,
                                                 color: c.light === "red" ? "#ff5252" : "#40c4ff", weight: 3 });
      rings.addLayer(ring);
      shown.push(ring);
      while (shown.length > PULSES) rings.removeLayer(shown.shift());
      setTimeout(function () {
        rings.removeLayer(ring);
        var i = shown.indexOf(ring);
        if (i >= 0) shown.splice(i, 1);
      }, PULSE_MS);
      window.citygrid.pulses = (window.citygrid.pulses || 0) + 1;
      window.citygrid.pulsing = shown.length;
    };
  }

  function tick(clock) {
    clock.textContent = window.citygrid.shortTime(new Date().toISOString());
  }

  window.citygridScreen = {
    start: function (map, meta) {
      var parts = layout(meta), timer = null;
      map.options.zoomSnap = 0.25;  /* the district fills the wall's map, not the nearest whole zoom */
      window.citygrid.onCase = pulser(map);
      window.citygrid.refreshDashboard = function () {  /* at most once a second, even under a steady stream */
        if (timer) return;
        timer = setTimeout(function () { timer = null; load(parts); }, THROTTLE);
      };
      load(parts);
      setInterval(function () { load(parts); }, EVERY);
      tick(parts.clock);
      setInterval(function () { tick(parts.clock); }, 1000);
      window.addEventListener("resize", function () { if (chart) chart.resize(); map.invalidateSize(); });
    }
  };
})();
