// Leaflet maps of the rides pages. Tiles come from RIDES_TILE_URL; when they cannot load,
// the map keeps its plain background and the markers and shapes still show.
const L = window.L;

export function createMap(element, config, { zoom = 13 } = {}) {
  const map = L.map(element, { zoomControl: true, attributionControl: true }).setView(config.center, zoom);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || "" }).addTo(map);
  }
  element.dataset.mapReady = "true";
  return map;
}

export function dotIcon(color, size = 18) {
  return L.divIcon({
    className: "",
    html: `<div class="rd-marker" style="width:${size}px;height:${size}px;background:${color}"></div>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

export const carIcon = () => L.divIcon({ className: "", html: '<div class="rd-car" aria-hidden="true">🚗</div>', iconSize: [28, 28], iconAnchor: [14, 14] });

// A marker created on first use and moved afterwards; null/undefined position removes it.
export function placer(map, icon, title) {
  let marker = null;
  return (position) => {
    if (!position) {
      if (marker) marker.remove();
      marker = null;
      return null;
    }
    const latlng = [position.lat, position.lng];
    if (marker) marker.setLatLng(latlng);
    else marker = L.marker(latlng, { icon, title, keyboard: false }).addTo(map);
    return marker;
  };
}

export function fitPoints(map, points) {
  const present = points.filter(Boolean).map((p) => [p.lat, p.lng]);
  if (present.length === 1) map.setView(present[0], Math.max(map.getZoom(), 14));
  else if (present.length > 1) map.fitBounds(present, { padding: [40, 40], maxZoom: 15 });
}

export { L };
