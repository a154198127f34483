/* Street and community names written on the map (the base map is off by default offline, so without them the map
   is abstract grey). Each name sits at a point inside its area (the server's ST_PointOnSurface) and is shown only
   at zooms where the area is wide enough on screen for it: streets while they are small enough to need a name
   and their communities do not fit yet, communities once they fit. Names enter as text nodes; the labels take
   no clicks (their pane lets them through to the cases and areas beneath). */
(function () {
  "use strict";
  var FIT = { streets: 90, communities: 70 };  /* the area's side on screen, in pixels, a name needs */
  var COMMUNITIES_FROM = 14;                     /* below this zoom, only street names */

  function metresPerPixel(map) {
    var lat = map.getCenter().lat * Math.PI / 180;
    return 156543.03392 * Math.cos(lat) / Math.pow(2, map.getZoom());
  }

  function labelMarker(kind, p) {
    var text = window.citygrid.el("span", null, p.name);
    var icon = L.divIcon({ html: text, className: "citygrid-label citygrid-label-" + kind, iconSize: null });
    var marker = L.marker([p.lat, p.lon], { icon: icon, interactive: false, keyboard: false, pane: "citygridLabels" });
    marker.span = p.span_m;
    return marker;
  }

  function start(map, labels) {
    if (!labels || !map.createPane) return;
    var pane = map.createPane("citygridLabels");
    pane.style.zIndex = 350;           /* under the areas and cases (their fills are faint): never over a case */
    pane.style.pointerEvents = "none";
    var groups = {};
    Object.keys(labels).forEach(function (kind) {
      groups[kind] = { layer: L.layerGroup().addTo(map),
                       markers: labels[kind].map(function (p) { return labelMarker(kind, p); }) };
    });

    function update() {
      var mpp = metresPerPixel(map), shown = {};
      Object.keys(groups).forEach(function (kind) {
        var g = groups[kind], count = 0;
        var allowed = kind !== "communities" || map.getZoom() >= COMMUNITIES_FROM;
        var streetsWanted = kind !== "streets" || map.getZoom() < COMMUNITIES_FROM + 2;
        g.markers.forEach(function (m) {
          var fits = allowed && streetsWanted && m.span / mpp >= FIT[kind];
          if (fits && !g.layer.hasLayer(m)) g.layer.addLayer(m);
          if (!fits && g.layer.hasLayer(m)) g.layer.removeLayer(m);
          count += fits ? 1 : 0;
        });
        shown[kind] = count;
      });
      window.citygrid.labelsShown = shown;
    }
    map.on("zoomend", update);
    update();
  }

  window.citygridLabels = { start: start };
})();
