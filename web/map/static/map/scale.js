/* Many cases: markers cluster when zoomed out (Leaflet.markercluster) and a heat map can be switched on
   (Leaflet.heat). The GeoJSON case layer stays the one source of truth (filters and live updates change it); the
   cluster group and the heat layer are rebuilt from it after every change. */
(function () {
  "use strict";
  var CLUSTER_MIN = 300;   /* below this many cases every marker is drawn as it is */
  var SINGLE_ZOOM = 16;    /* from this zoom on, no clusters */

  function start(map, layers, meta, control) {
    var cases = layers.cases, cluster = null, heat = null, pending = false;
    if (!cases) return null;
    if ((meta.counts.cases || 0) >= CLUSTER_MIN && L.markerClusterGroup) {
      cluster = L.markerClusterGroup({ chunkedLoading: true, disableClusteringAtZoom: SINGLE_ZOOM, animate: false,
                                       showCoverageOnHover: false, maxClusterRadius: 60 });
      map.removeLayer(cases);
      if (control) { control.removeLayer(cases); control.addOverlay(cluster, "案件 Cases"); }
      map.addLayer(cluster);
    }
    function rebuild() {
      pending = false;
      var markers = cases.getLayers();
      if (cluster) { cluster.clearLayers(); cluster.addLayers(markers); }
      if (heat) heat.setLatLngs(markers.map(function (m) { return m.getLatLng(); }));
      window.citygrid.clustered = !!cluster;
    }
    rebuild();
    return {
      changed: function () { if (!pending) { pending = true; requestAnimationFrame(rebuild); } },
      heat: function (on) {
        if (on && !heat && L.heatLayer) {
          heat = L.heatLayer([], { radius: 18, blur: 16, minOpacity: 0.3 }).addTo(map);
          rebuild();
        } else if (!on && heat) { map.removeLayer(heat); heat = null; }
        window.citygrid.heat = !!heat;
      }
    };
  }

  window.citygridScale = { start: start };
})();
