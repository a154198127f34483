/* The cases in view, aggregated on the server (/api/map/cases): the map asks for the box it shows, at its zoom,
   with the panel's filters, and gets either each case (`points`, at most CITYGRID_MAP_CASE_LIMIT of them) or counts
   per cell (`cells`). Points are clustered in the browser from CLUSTER_MIN on (Leaflet.markercluster); cells are
   drawn in the same style and a click zooms into one. A heat map can be switched on (Leaflet.heat).
   Live updates: in points mode a changed case inside the view's box is put on the map at once (one outside it is
   not: the map holds the cases of its box only), and when that takes the map past the limit, the view is asked for
   again (and comes back as cells); in cells mode the view is asked for again. Either way the unit grids' shading
   (open / overdue cases) is fetched again, at most once a second. So the markers a page holds stay bounded by the
   limit however long it stays open. */
(function () {
  "use strict";
  var CLUSTER_MIN = 300;   /* from this many points, cluster them in the browser */
  var SINGLE_ZOOM = 16;    /* from this zoom on, no browser clusters */
  var MAX_ZOOM = 19;
  var GRID_BASE = { fillColor: "#607d8b", fillOpacity: 0 };

  function el(tag, cls, text) { return window.citygrid.el(tag, cls, text); }  /* citygrid.js: text nodes only */

  /* Unit grids: red where a case is overdue, orange by the number of open cases. */
  function gridShade(props) {
    if (props.overdue) return { fillColor: "#c62828", fillOpacity: Math.min(0.15 + 0.05 * props.overdue, 0.5) };
    if (props.open) return { fillColor: "#ef6c00", fillOpacity: Math.min(0.06 + 0.03 * props.open, 0.35) };
    return GRID_BASE;
  }

  function shadeGrids(grids, load) {
    if (!grids) return;
    grids.eachLayer(function (g) {
      var p = g.feature.properties, v = load ? (load[p.code] || [0, 0]) : [p.open || 0, p.overdue || 0];
      if (load && p.open === v[0] && p.overdue === v[1]) return;
      p.open = v[0];
      p.overdue = v[1];
      g.setStyle(gridShade(p));
      if (load && g.getTooltip()) g.setTooltipContent(window.citygrid.featureLabel(p));
    });
  }

  function cellSize(count) { return count < 100 ? "small" : count < 1000 ? "medium" : "large"; }

  function start(map, layers, meta, control) {
    var cases = layers.cases;
    shadeGrids(layers.grids, null);
    if (!cases) return null;
    var shown = L.layerGroup().addTo(map);       /* the "Cases" overlay: holds whichever layer is drawn now */
    map.removeLayer(cases);
    if (control) { control.removeLayer(cases); control.addOverlay(shown, window.citygrid.T("mp_layer_cases")); }
    var cluster = L.markerClusterGroup ? L.markerClusterGroup({ chunkedLoading: true, animate: false,
      disableClusteringAtZoom: SINGLE_ZOOM, showCoverageOnHover: false, maxClusterRadius: 60 }) : null;
    var cellLayer = L.layerGroup(), display = null, mode = null, cells = [], heat = null;
    var seq = 0, controller = null, timer = null, loadTimer = null, held = null;  /* held: the box of the cases drawn */
    var pendingCase = null, inFlightCase = null;  /* the newest changed case a view request is (to be) made for */
    var status = el("div", "citygrid-status");
    map.getContainer().appendChild(status);

    function setDisplay(next) {
      if (display === next) return;
      if (display) {
        /* emptied while still on the map: off the map, markercluster's clearLayers keeps its old tree of clusters
           (and every marker in it) until it is added again */
        if (display === cluster) cluster.clearLayers();
        shown.removeLayer(display);
      }
      display = next;
      shown.addLayer(next);
    }

    function heatPoints() {
      if (mode === "cells") {
        var max = Math.max.apply(null, cells.map(function (c) { return c.count; }).concat([1]));
        return cells.map(function (c) { return [c.lat, c.lon, c.count / max]; });
      }
      return cases.getLayers().map(function (m) { return m.getLatLng(); });
    }

    /* after the points changed: cluster them in the browser when there are many */
    function redrawPoints() {
      var markers = cases.getLayers();
      if (cluster && markers.length >= CLUSTER_MIN) {
        setDisplay(cluster);
        cluster.clearLayers();
        cluster.addLayers(markers);
      } else {
        setDisplay(cases);
      }
      window.citygrid.clustered = display === cluster;
      window.citygrid.shown = markers.length;
      if (heat) heat.setLatLngs(heatPoints());
    }

    function cellMarker(c) {
      var inner = el("div");
      inner.appendChild(el("span", null, c.count));
      var icon = L.divIcon({ html: inner, iconSize: L.point(40, 40), className: "marker-cluster citygrid-cell " +
        "marker-cluster-" + cellSize(c.count) + (c.overdue ? " citygrid-cell-overdue" : "") });
      var marker = L.marker([c.lat, c.lon], { icon: icon, keyboard: false });
      var T = window.citygrid.T;
      marker.bindTooltip(el("span", null, c.count + " " + T("mp_cases_unit") + " · " + T("sc_open") + " " + c.open +
                                          " · " + T("sc_overdue") + " " + c.overdue));
      marker.on("click", function () {
        var bounds = L.latLngBounds([c.south, c.west], [c.north, c.east]);
        var zoom = Math.max(map.getBoundsZoom(bounds.pad(0.1)), map.getZoom() + 2);
        map.setView(bounds.getCenter(), Math.min(zoom, MAX_ZOOM));
      });
      return marker;
    }

    function apply(data) {
      mode = data.mode;
      if (mode === "cells") {
        cases.clearLayers();
        cells = data.cells;
        cellLayer.clearLayers();
        cells.forEach(function (c) { cellLayer.addLayer(cellMarker(c)); });
        setDisplay(cellLayer);
        window.citygrid.clustered = true;
        window.citygrid.shown = data.total;
        if (heat) heat.setLatLngs(heatPoints());
      } else {
        cells = [];
        cellLayer.clearLayers();
        window.citygrid.replacingCases(cases, function () {
          cases.clearLayers();
          window.citygrid.addCases(cases, data.features);
          redrawPoints();
        });
      }
      window.citygrid.mode = mode;
      if (window.citygridPanels) window.citygridPanels.redrawList();
      window.citygrid.truncated = !!data.truncated;
      status.textContent = data.truncated ? window.citygrid.T("mp_truncated") + " " + data.features.length : "";
    }

    /* the box a view asks for: the map's bounds padded by a quarter on each side */
    function viewBounds() { return map.getBounds().pad(0.25); }

    function query(bounds) {
      var b = bounds || viewBounds();
      var box = [Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()), Math.min(180, b.getEast()),
                 Math.min(90, b.getNorth())].map(function (v) { return v.toFixed(6); });
      var q = "west=" + box[0] + "&south=" + box[1] + "&east=" + box[2] + "&north=" + box[3] +
              "&zoom=" + Math.round(map.getZoom());
      var f = window.citygridFilters ? window.citygridFilters.state() : {};
      Object.keys(f).forEach(function (k) { if (f[k] !== "") q += "&" + k + "=" + encodeURIComponent(f[k]); });
      return q;
    }

    function load() {
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      var mine = ++seq, forCase = pendingCase !== null ? pendingCase : inFlightCase, asked = viewBounds();
      inFlightCase = forCase;
      pendingCase = null;
      fetch("/api/map/cases?" + query(asked), { credentials: "same-origin", signal: controller && controller.signal })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (data) {
          if (mine !== seq) return;  /* a newer view was asked for meanwhile */
          held = asked;
          apply(data);
          if (forCase !== null) window.citygrid.shownCase = forCase;
          inFlightCase = null;
          window.citygrid.busy = false;
          window.citygrid.views = (window.citygrid.views || 0) + 1;
        })
        .catch(function (e) {
          if (e.name === "AbortError") return;  /* the newer request carries forCase on */
          if (mine === seq) window.citygrid.busy = false;
          status.textContent = window.citygrid.T("mp_cases_failed") + " " + e.message;
          window.citygrid.viewError = e.message;
        });
    }

    function refresh(delay) {
      window.citygrid.busy = true;  /* until the newest view asked for is drawn */
      clearTimeout(timer);
      timer = setTimeout(load, delay || 0);
    }

    function reloadGridLoad() {
      if (loadTimer) return;
      loadTimer = setTimeout(function () {
        loadTimer = null;
        fetch("/api/map/grid-load", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (load) {
            if (!load) return;
            shadeGrids(layers.grids, load);
            window.citygrid.gridLoads = (window.citygrid.gridLoads || 0) + 1;
          });
      }, 1000);
    }

    map.on("moveend", function () { refresh(50); });
    refresh(0);

    return {
      refresh: refresh,
      query: query,  /* the view's box, zoom and filters as a query string (the case list asks with them too) */
      /* a case changed (server-sent event) */
      live: function (c) {
        reloadGridLoad();
        var inBox = held && typeof c.lat === "number" && held.contains([c.lat, c.lon]);
        if (mode === "points" && !inBox) return;  /* not in the box the map holds the cases of */
        if (mode === "points" && cases.getLayers().length < meta.caseLimit) {
          window.citygrid.upsertCase(cases, c);
          redrawPoints();
          window.citygrid.shownCase = c.id;
        } else {  /* cells, or the limit reached: the server counts the view again */
          pendingCase = c.id;
          refresh(100);  /* a burst of changes asks once */
        }
      },
      heat: function (on) {
        if (on && !heat && L.heatLayer) {
          heat = L.heatLayer(heatPoints(), { radius: 18, blur: 16, minOpacity: 0.3 }).addTo(map);
        } else if (!on && heat) { map.removeLayer(heat); heat = null; }
        window.citygrid.heat = !!heat;
      }
    };
  }

  window.citygridView = { start: start, gridShade: gridShade };
})();
