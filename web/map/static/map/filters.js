/* Filters for the cases on the map: category (major), department, street, status and period. The server applies
   them (/api/map/cases, asked again on every change); live updates are checked here with the same rules. */
(function () {
  "use strict";
  var state = { major: "", department: "", street: "", status: "", period: "" };
  var OPEN_OVER = { dispatched: 1, accepted: 1, extension_requested: 1 };
  var FINISHED = { closed: 1, rejected: 1, merged: 1 };

  function el(tag, cls, text) { return window.citygrid.el(tag, cls, text); }  /* citygrid.js: text nodes only */

  /* the deployment's date n days ago, as "YYYY-MM-DD" (created_at is shown in the deployment's zone too) */
  function daysAgo(n) {
    return window.citygrid.shortTime(new Date(Date.now() - n * 86400000).toISOString()).slice(0, 10);
  }

  function matches(p) {
    if (state.major && String(p.category).slice(0, 2) !== state.major) return false;
    if (state.department && p.department !== state.department) return false;
    if (state.street && p.street !== state.street) return false;
    if (state.status === "open" && FINISHED[p.status]) return false;
    if (state.status === "overdue" && !(OPEN_OVER[p.status] && p.light === "red")) return false;
    if (state.status === "finished" && !FINISHED[p.status]) return false;
    if (state.period && String(p.created_at).slice(0, 10) < daysAgo(Number(state.period))) return false;
    return true;
  }

  function select(name, label, options) {
    var box = el("label", "citygrid-filter");
    box.appendChild(el("span", null, label));
    var s = el("select");
    s.name = name;
    options.forEach(function (o) { var opt = el("option", null, o[1]); opt.value = o[0]; s.appendChild(opt); });
    s.addEventListener("change", function () {
      state[name] = s.value;
      if (window.citygrid.view) window.citygrid.view.refresh();
      if (name === "street" && window.citygrid.refreshDashboard) window.citygrid.refreshDashboard();
    });
    box.appendChild(s);
    return box;
  }

  function heatToggle() {
    var box = el("label", "citygrid-filter");
    var input = el("input");
    input.type = "checkbox";
    input.name = "heat";
    input.addEventListener("change", function () { if (window.citygrid.view) window.citygrid.view.heat(input.checked); });
    box.appendChild(input);
    box.appendChild(el("span", null, window.citygrid.T("mp_heat")));
    return box;
  }

  function fetchJSON(path) {
    return fetch(path, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : []; });
  }

  /* On a phone (map.css hides the panel there) the filters are a sheet a button opens; on a desk, always shown. */
  function sheetToggle(map, panel) {
    var T = window.citygrid.T;
    var toggle = el("button", "citygrid-filters-toggle", T("mp_filters"));
    toggle.type = "button";
    toggle.setAttribute("aria-controls", panel.id);
    toggle.setAttribute("aria-expanded", "false");
    var close = el("button", "citygrid-filters-close", T("mp_close"));
    close.type = "button";
    panel.appendChild(close);
    function set(open) {
      panel.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", String(open));
    }
    toggle.addEventListener("click", function () { set(!panel.classList.contains("open")); });
    close.addEventListener("click", function () { set(false); });
    var control = L.control({ position: "topleft" });  /* stacked under the zoom buttons */
    control.onAdd = function () { L.DomEvent.disableClickPropagation(toggle); return toggle; };
    control.addTo(map);
  }

  window.citygridFilters = {
    matches: matches,
    state: function () { return state; },
    start: function (map, layers) {
      var panel = el("div", "citygrid-filters");
      panel.id = "citygrid-filters";
      L.DomEvent.disableClickPropagation(panel);
      L.DomEvent.disableScrollPropagation(panel);
      map.getContainer().appendChild(panel);
      sheetToggle(map, panel);
      var T = window.citygrid.T, all = ["", T("mp_all")];
      var streets = [all];
      if (layers.streets) layers.streets.eachLayer(function (f) { streets.push([f.feature.properties.code, f.feature.properties.name]); });
      Promise.all([fetchJSON("/api/categories"), fetchJSON("/api/departments")]).then(function (r) {
        var majors = {};
        r[0].forEach(function (c) { majors[c.major_code] = c.major_name; });
        panel.appendChild(select("major", T("mp_category"), [all].concat(
          Object.keys(majors).sort().map(function (k) { return [k, k + " " + majors[k]]; }))));
        panel.appendChild(select("department", T("mp_department"), [all].concat(
          r[1].map(function (d) { return [d.code, d.name]; }))));
        panel.appendChild(select("street", T("mp_street"), streets));
        panel.appendChild(select("status", T("mp_status"), [all, ["open", T("sc_open")],
          ["overdue", T("sc_overdue")], ["finished", T("mp_finished")]]));
        panel.appendChild(select("period", T("mp_period"), [all, ["0", T("mp_period_today")],
          ["7", T("mp_period_7")], ["30", T("mp_period_30")]]));
        panel.appendChild(heatToggle());
        window.citygrid.filtersReady = true;
      });
    }
  };
})();
