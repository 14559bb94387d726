// Leaflet maps of the rides pages. Tiles come from RIDES_TILE_URL; when they cannot load,
// the map keeps its plain background and the markers and shapes still show.
const L = window.L;

export function createMap(element, config, { zoom = 13 } = {}) {
  const map = L.map(element, { zoomControl: true, attributionControl: true }).setView(config.center, zoom);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || "" }).addTo(map);
  }
  if (config.service_areas) drawServiceAreas(map, config.service_areas);
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

// A car seen from the side, drawn in SVG (no emoji font is needed).
const CAR_SVG = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 11l1.6-4.2A2 2 0 0 1 8.5 5.5h7a2 2 0 0 1 1.9 1.3L19 11a2 2 0 0 1 2 2v4h-2a2 2 0 0 1-4 0H9a2 2 0 0 1-4 0H3v-4a2 2 0 0 1 2-2zm2.2 0h9.6l-1.1-3.1a.6.6 0 0 0-.6-.4H8.9a.6.6 0 0 0-.6.4z"/></svg>';

export const carIcon = () => L.divIcon({ className: "", html: `<div class="rd-car">${CAR_SVG}</div>`, iconSize: [28, 28], iconAnchor: [14, 14] });

// The service areas as dashed outlines: on a map without tiles they are the only landmarks.
export function drawServiceAreas(map, areas, { fit = false } = {}) {
  const layer = L.featureGroup(areas.map((area) => L.polygon(area.polygon, {
    color: "#3b5bfd", weight: 1.5, fill: false, dashArray: "6 6", interactive: false,
  }))).addTo(map);
  if (fit && areas.length) map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  return layer;
}

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
