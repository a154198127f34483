/* The map's side pieces: the legend of the marker colours, the district fitted into the part of the map no panel
   covers, and the list of the cases in view (sortable by deadline; a click centres the case and opens its details).
   When the view holds too many cases to draw one by one (cells mode), the list asks the server for the cases
   departments hold in view, by deadline (/api/map/urgent), and a click zooms in on the case with its details open.
   Texts come from the page (citygrid.T); user text enters as text nodes only. */
(function () {
  "use strict";

  function el(tag, cls, text) { return window.citygrid.el(tag, cls, text); }
  function T(key) { return window.citygrid.T(key); }

  /* the colours are citygrid.js colour()'s, asked of it for a sample case each */
  var SAMPLES = [["c_light_red", { light: "red" }], ["c_light_yellow", { light: "yellow" }],
                 ["c_light_green", { light: "green" }], ["mp_finished", { status: "closed" }],
                 ["mp_no_deadline", { status: "registered" }]];

  function legend(map) {
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = el("div", "citygrid-legend");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", T("mp_legend"));
      box.appendChild(el("b", null, T("mp_legend")));
      SAMPLES.forEach(function (s) {
        var row = el("div", "citygrid-legend-row");
        var dot = el("i", "citygrid-legend-dot");
        dot.style.background = window.citygrid.colour(s[1]);
        row.appendChild(dot);
        row.appendChild(el("span", null, T(s[0])));
        box.appendChild(row);
      });
      return box;
    };
    control.addTo(map);
    return control;
  }

  /* the map's edge a panel covers: [left, top, right, bottom] in pixels */
  function covered(map) {
    var box = map.getContainer().getBoundingClientRect(), pad = [10, 10, 10, 10];
    [".citygrid-title", ".citygrid-filters", ".citygrid-dash:not(.collapsed)"].forEach(function (sel) {
      var node = map.getContainer().querySelector(sel);
      if (!node || !node.offsetWidth) return;
      var r = node.getBoundingClientRect();
      if (r.width > box.width / 2) {  /* a wide panel along the top covers the top */
        pad[1] = Math.max(pad[1], r.bottom - box.top + 10);
      } else if (r.left - box.left > box.width / 2) {  /* on the right */
        pad[2] = Math.max(pad[2], box.right - r.left + 10);
      } else {
        pad[1] = Math.max(pad[1], r.bottom - box.top + 10);
      }
    });
    return pad;
  }

  function fitDistrict(map, bounds) {
    if (!bounds) return;
    var pad = covered(map);
    map.fitBounds(bounds, { paddingTopLeft: [pad[0], pad[1]], paddingBottomRight: [pad[2], pad[3]], animate: false });
    window.citygrid.fitted = pad;
  }

  /* ---- the case list ---- */
  var list = null, ascending = true;
  var LISTED = 200;  /* the most entries the list shows */

  function deadlineKey(p) { return p.deadline || "9999"; }

  function openCase(map, marker) {
    map.panTo(marker.getLatLng(), { animate: false });
    if (marker._map) marker.openPopup();
    else map.openPopup(marker.getPopup(), marker.getLatLng());
  }

  /* a case the map draws no marker for (cells mode): zoom in on it with its details open where it lies */
  function openDetails(map, feature) {
    var c = feature.geometry.coordinates, at = L.latLng(c[1], c[0]);
    map.setView(at, Math.max(map.getZoom(), 17), { animate: false });
    L.popup(window.citygrid.POPUP).setLatLng(at)
      .setContent(window.citygrid.details(feature.properties)).openOn(map);
  }

  function entry(p, open) {
    var item = el("li");
    var button = el("button", "citygrid-list-item");
    button.type = "button";
    var dot = el("i", "citygrid-legend-dot");
    dot.style.background = window.citygrid.colour(p);
    button.appendChild(dot);
    button.appendChild(el("b", null, "#" + p.id + " "));
    button.appendChild(el("span", null, p.category));
    button.appendChild(el("small", null, (p.deadline ? T("mp_deadline") + " " + p.deadline : T("mp_no_deadline"))));
    button.addEventListener("click", open);
    item.appendChild(button);
    return item;
  }

  function show(entries, ids, note) {
    list.items.textContent = "";
    list.note.textContent = note || "";
    list.note.hidden = !note;
    if (!entries.length) list.items.appendChild(el("li", "citygrid-list-empty", T("mp_case_list_empty")));
    entries.forEach(function (item) { list.items.appendChild(item); });
    window.citygrid.listed = ids;
  }

  /* cells mode: the cases departments hold in view, by deadline, from the server */
  function urgentList(map) {
    var mine = ++list.seq, view = window.citygrid.view;
    var url = "/api/map/urgent?" + view.query() + "&order=" + (ascending ? "soonest" : "latest") + "&limit=" + LISTED;
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      if (mine !== list.seq) return;  /* the view moved on meanwhile */
      show(data.features.map(function (f) { return entry(f.properties, function () { openDetails(map, f); }); }),
           data.features.map(function (f) { return f.properties.id; }), T("mp_case_list_crowded"));
    }).catch(function (e) {
      if (mine === list.seq) show([], [], T("mp_case_list_failed") + " " + e.message);
    });
  }

  function redrawList() {
    if (!list || list.box.hidden) return;
    var map = list.map;
    if (window.citygrid.mode === "cells" && window.citygrid.view) { urgentList(map); return; }
    list.seq++;
    var inView = map.getBounds(), markers = [];
    window.citygrid.layers.cases.eachLayer(function (m) { if (inView.contains(m.getLatLng())) markers.push(m); });
    markers.sort(function (a, b) {
      var x = deadlineKey(a.feature.properties), y = deadlineKey(b.feature.properties);
      return (x < y ? -1 : x > y ? 1 : a.feature.properties.id - b.feature.properties.id) * (ascending ? 1 : -1);
    });
    show(markers.slice(0, LISTED).map(function (m) {
      return entry(m.feature.properties, function () { openCase(map, m); });
    }), markers.map(function (m) { return m.feature.properties.id; }));
  }

  function caseList(map) {
    var toggle = el("button", "citygrid-list-toggle", T("mp_case_list"));
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", "false");
    var box = el("section", "citygrid-list");
    box.hidden = true;
    box.setAttribute("aria-label", T("mp_case_list"));
    var head = el("div", "citygrid-list-head");
    head.appendChild(el("b", null, T("mp_case_list")));
    var sort = el("button", "citygrid-list-sort", T("mp_sort_deadline") + " ↑");
    sort.type = "button";
    sort.addEventListener("click", function () {
      ascending = !ascending;
      sort.textContent = T("mp_sort_deadline") + (ascending ? " ↑" : " ↓");
      redrawList();
    });
    head.appendChild(sort);
    box.appendChild(head);
    var note = el("p", "citygrid-list-note");
    note.hidden = true;
    box.appendChild(note);
    var items = el("ol", "citygrid-list-items");
    box.appendChild(items);
    toggle.addEventListener("click", function () {
      box.hidden = !box.hidden;
      toggle.setAttribute("aria-expanded", String(!box.hidden));
      redrawList();
    });
    var control = L.control({ position: "topright" });  /* stacked with the layer list, not over it */
    control.onAdd = function () { return toggle; };
    control.addTo(map);
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    map.getContainer().appendChild(box);
    list = { map: map, box: box, items: items, note: note, toggle: toggle, seq: 0 };
    map.on("moveend", redrawList);
  }

  window.citygridPanels = { legend: legend, fitDistrict: fitDistrict, caseList: caseList, redrawList: redrawList };
})();
