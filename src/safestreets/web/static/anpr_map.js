// ANPR layers on the map (analysts): cameras, flows between areas, county-lines vehicles and co-travel
// cameras from /api/layers/anpr/... Nothing loads until a purpose is written: it goes with every request and
// the server writes it to the audit trail. Vehicles are pseudonyms. No inline script or style (CSP).
// A file of its own beside map.js (already near the size limit), which hands it the Leaflet map.
(function () {
  "use strict";
  const page = document.getElementById("map-page");
  const form = document.getElementById("anpr-layers");
  if (!page || !form || !window.L || !page.leafletMap) return;
  const map = page.leafletMap;
  const $ = (id) => document.getElementById(id);
  const COLOURS = { cameras: "#444444", flows: "#2171b5", "county-lines": "#d7301f", "co-travel": "#6a3d9a" };
  const drawn = {}; // layer name -> Leaflet layer
  let token = 0;    // a newer submit wins over a slow older answer

  function status(text) { $("anpr-status").textContent = text; }

  function text(p, keys) {
    return keys.filter((k) => p[k] !== null && p[k] !== undefined).map((k) => `${k}: ${p[k]}`).join("\n");
  }

  function tip(layer, body) {
    const node = document.createElement("span");
    node.className = "anpr-tip";
    node.textContent = body; // text only: nothing from the answer is parsed as HTML
    layer.bindTooltip(node, { sticky: true });
  }

  const DRAW = {
    cameras: (data) => L.geoJSON(data, {
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 3, color: COLOURS.cameras, weight: 1, fillOpacity: 0.8 }),
      onEachFeature: (f, layer) => tip(layer, text(f.properties, ["camera_id", "road", "direction", "name", "area_code"])),
    }),
    flows: (data) => {
      const most = Math.max(1, ...data.features.map((f) => f.properties.trips));
      return L.geoJSON(data, {
        style: (f) => ({ color: COLOURS.flows, weight: 1 + 9 * f.properties.trips / most, opacity: 0.6 }),
        pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 3 + 12 * f.properties.trips / most, color: COLOURS.flows, weight: 1, fillOpacity: 0.3 }),
        onEachFeature: (f, layer) => tip(layer, text(f.properties, ["origin_area", "destination_area", "trips", "vehicles", "mean_minutes"])),
      });
    },
    "county-lines": (data) => L.geoJSON(data, {
      style: (f) => ({ color: COLOURS["county-lines"], weight: 1 + f.properties.excursions, opacity: 0.7 }),
      onEachFeature: (f, layer) => tip(layer, text(f.properties, ["vehicle", "far_area", "score", "returns", "excursions", "mean_dwell_min"])),
    }),
    "co-travel": (data) => {
      const most = Math.max(1, ...data.features.map((f) => f.properties.co_reads));
      return L.geoJSON(data, {
        pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 4 + 10 * f.properties.co_reads / most, color: COLOURS["co-travel"], weight: 1, fillOpacity: 0.5 }),
        onEachFeature: (f, layer) => tip(layer, text(f.properties, ["camera_id", "road", "area_code", "co_reads", "pairs"])),
      });
    },
  };

  function url(name) {
    if (name === "cameras") return "/api/layers/anpr/cameras";
    const q = new URLSearchParams({ purpose: $("anpr-purpose").value.trim() });
    if ($("anpr-since").value) q.set("since", $("anpr-since").value);
    if ($("anpr-metro").value.trim()) q.set("metro", $("anpr-metro").value.trim());
    return `/api/layers/anpr/${name}?${q.toString()}`;
  }

  async function fetchLayer(name) {
    const r = await fetch(url(name), { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) { window.location.assign("/login?next=/map"); throw new Error("sign in again"); }
    if (!r.ok) throw new Error((body && body.error) || `the server answered ${r.status}`);
    return body;
  }

  function hasView() {
    try { map.getCenter(); return true; } catch (e) { return false; } // no crime data: map.js set no view
  }

  function clear(name) {
    if (drawn[name]) { map.removeLayer(drawn[name]); delete drawn[name]; }
  }

  async function show(ev) {
    ev.preventDefault();
    const purpose = $("anpr-purpose").value.trim();
    if (purpose.length < 5) { status("Write the purpose first (at least 5 characters): it goes to the audit trail."); return; }
    const mine = ++token;
    const wanted = Array.from(form.querySelectorAll("input[name=anpr]")).filter((i) => i.checked).map((i) => i.value);
    for (const name of Object.keys(drawn)) if (!wanted.includes(name)) clear(name);
    status("Loading...");
    const done = [];
    const failed = [];
    for (const name of wanted) {
      try {
        const data = await fetchLayer(name);
        if (mine !== token) return;
        clear(name);
        drawn[name] = DRAW[name](data).addTo(map);
        done.push(`${name}: ${data.features.length}`);
      } catch (err) {
        if (mine !== token) return;
        failed.push(`${name}: ${err.message}`);
      }
    }
    const bounds = Object.values(drawn).map((l) => l.getBounds()).filter((b) => b.isValid());
    if (bounds.length && !hasView()) map.fitBounds(bounds.reduce((a, b) => a.extend(b)), { maxZoom: 13 });
    status([done.length ? "Shown: " + done.join(", ") : "", failed.join("; ")].filter(Boolean).join(". "));
  }

  form.addEventListener("submit", show);
})();
