/* citygrid map wiring. Every piece of user text goes into the page as a text node, never as HTML. */
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function featureLabel(props) {
    var load = props.open ? " · " + T("sc_open") + " " + props.open +
                            (props.overdue ? " · " + T("sc_overdue") + " " + props.overdue : "") : "";
    return el("span", null, props.name + " " + props.code + load);
  }

  /* a text of the page's language (meta.texts, from web/pages/i18n.py); the key itself when missing */
  function T(key) {
    var t = window.citygrid.meta && window.citygrid.meta.texts;
    return (t && t[key]) || key;
  }

  var LIGHT = { red: "c_light_red", yellow: "c_light_yellow", green: "c_light_green" };

  /* the department's name, its code in a tooltip (live events carry the code: the name from /api/departments) */
  function departmentCell(props) {
    var code = props.department || "";
    var names = window.citygrid.departments || {};
    var node = el("span", null, props.department_name && props.department_name !== code ? props.department_name
                                                                                         : names[code] || code);
    if (code) node.title = code;
    return node;
  }

  function casePopup(props) {
    var box = el("div", "citygrid-details");
    var dl = el("dl", "citygrid-popup");
    [["mp_case", "#" + props.id], ["mp_category", props.category], ["mp_status", props.status],
     ["mp_grid", props.grid], ["mp_reported", props.created_at], ["mp_department", departmentCell(props)],
     ["mp_deadline", props.deadline + (props.light ? " (" + T(LIGHT[props.light]) + ")" : "")],
     ["mp_description", props.description]]
      .forEach(function (row) {
        dl.appendChild(el("dt", null, T(row[0])));
        var dd = el("dd");
        if (row[1] && row[1].nodeType) dd.appendChild(row[1]); else dd.textContent = String(row[1] || "");
        dl.appendChild(dd);
      });
    box.appendChild(dl);
    var link = el("a", "citygrid-case-link", T("mp_open_case") + " #" + props.id);
    link.href = "/cases/" + encodeURIComponent(props.id);
    box.appendChild(link);
    return box;
  }

  var LIGHT_COLOUR = { red: "#c62828", yellow: "#f9a825", green: "#2e7d32" };
  var FINISHED = { closed: true, rejected: true, merged: true };

  function colour(props) {
    return LIGHT_COLOUR[props.light] || (FINISHED[props.status] ? "#9e9e9e" : "#e65100");
  }

  /* "YYYY-MM-DD HH:MM" in the deployment's zone (meta.timezone), whatever zone the browser is in */
  function shortTime(iso) {
    if (!iso) return "";
    var zone = (window.citygrid.meta && window.citygrid.meta.timezone) || undefined;
    var parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(iso));
    var v = {};
    parts.forEach(function (p) { v[p.type] = p.value; });
    return v.year + "-" + v.month + "-" + v.day + " " + v.hour + ":" + v.minute;
  }

  /* a case's details: no auto-pan (see addCases), a height limit, and room for two columns */
  var POPUP = { autoPan: false, maxHeight: 260, maxWidth: 320 };

  /* Case features from the server (/api/map/cases): a coloured marker with a text-only popup each. */
  function addCases(layer, features) {
    layer.addData(features);
    layer.eachLayer(function (m) {
      if (m.getPopup()) return;
      m.setStyle({ fillColor: colour(m.feature.properties) });
      /* no auto-pan: a pan moves the view, the view reloads the cases, and the reload closed the popup */
      /* the details are made when opened: a marker keeps no DOM of its own until then */
      m.bindPopup(function (layer) { return casePopup(layer.feature.properties); }, POPUP);
    });
  }

  /* Open details outlive their marker. A reload of the view (a move, a filter) or a live change replaces markers;
     the open popup is detached from its marker before the marker goes, so it stays open, and it takes the text of
     the case's new marker when there is one. */
  function replacingCases(layer, replace) {
    var open = null;
    layer.eachLayer(function (m) {
      if (!open && m.isPopupOpen()) { open = { id: m.feature.properties.id, popup: m.getPopup() }; m.unbindPopup(); }
    });
    replace();
    if (open) layer.eachLayer(function (m) {
      if (m.feature.properties.id === open.id && m.getPopup()) open.popup.setContent(casePopup(m.feature.properties));
    });
  }

  /* A changed case from the server (server-sent events): replace its marker, or add it, if the filters admit it. */
  function upsertCase(layer, c) {
    var props = { id: c.id, status: c.status, category: c.category_code + " " + (c.category_name || ""),
                  description: c.description || "", grid: c.grid_code, created_at: shortTime(c.created_at),
                  department: c.department_code || "", department_name: "", deadline: shortTime(c.deadline), light: c.light || "",
                  street: c.street_code };
    replacingCases(layer, function () {
      layer.eachLayer(function (m) { if (m.feature.properties.id === c.id) layer.removeLayer(m); });
      if (window.citygridFilters && !window.citygridFilters.matches(props)) return;
      addCases(layer, { type: "Feature", geometry: { type: "Point", coordinates: [c.lon, c.lat] }, properties: props });
    });
  }

  function listen(layers) {
    if (!window.EventSource) return;
    var source = new EventSource("/api/events");
    source.addEventListener("case", function (event) {
      var c = JSON.parse(event.data);
      if (window.citygrid.view) window.citygrid.view.live(c);
      if (window.citygrid.refreshDashboard) window.citygrid.refreshDashboard();
      if (window.citygrid.onCase) window.citygrid.onCase(c);
      window.citygrid.received = (window.citygrid.received || 0) + 1;
      window.citygrid.lastCase = c;
    });
    source.addEventListener("signin", function (event) {  /* the token was revoked or expired: sign in again */
      source.close();
      window.citygrid.live = false;
      window.citygrid.signinReason = JSON.parse(event.data).reason;
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    });
    source.onopen = function () { window.citygrid.live = true; };
    window.citygrid.source = source;
  }

  function init(map, layers, meta, control) {
    ["streets", "communities", "grids"].forEach(function (key) {
      if (!layers[key]) return;
      layers[key].eachLayer(function (f) {
        f.bindTooltip(featureLabel(f.feature.properties), { sticky: true });
      });
    });
    var title = el("div", "citygrid-title", meta.title);
    map.getContainer().appendChild(title);
    window.citygrid.map = map;
    window.citygrid.layers = layers;
    window.citygrid.meta = meta;
    if (window.citygridPanels && !meta.screen) {
      window.citygridPanels.legend(map);
      if (layers.cases) window.citygridPanels.caseList(map);
    }
    fetch("/api/departments", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) {
        var names = {};
        list.forEach(function (d) { names[d.code] = d.name; });
        window.citygrid.departments = names;
      });
    if (window.citygridFilters && layers.cases && !meta.screen) window.citygridFilters.start(map, layers);
    if (control && map.getContainer().offsetWidth < 700) {  /* a phone: the layer list folds into its button */
      control.remove();
      control.options.collapsed = true;
      control.addTo(map);
    }
    window.citygrid.view = window.citygridView ? window.citygridView.start(map, layers, meta, control) : null;
    if (meta.screen && window.citygridScreen) {
      window.citygridScreen.start(map, meta);
    } else if (meta.dashboard && window.citygridDashboard) {
      window.citygrid.refreshDashboard = window.citygridDashboard.start(map.getContainer());
    }
    if (window.citygridLabels) window.citygridLabels.start(map, meta.labels);
    if (window.citygridPanels) window.citygridPanels.fitDistrict(map, meta.bounds);
    listen(layers);
    window.citygrid.ready = true;
  }

  window.citygrid = { init: init, ready: false, el: el, T: T, shortTime: shortTime, featureLabel: featureLabel,
                      colour: colour, details: casePopup, POPUP: POPUP,
                      addCases: addCases, upsertCase: upsertCase,
                      replacingCases: replacingCases };
})();
