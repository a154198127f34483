"""The shared map: a folium/Leaflet page whose every asset is served by the app."""
