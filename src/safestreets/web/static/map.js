// The map page: layers from /api/layers/..., filters, legend, and a details panel with a history chart.
// No inline script or style (CSP): colours are SVG attributes set through Leaflet, or CSS classes.
(function () {
  "use strict";
  const page = document.getElementById("map-page");
  if (!page || !window.L) return;
  const $ = (id) => document.getElementById(id);
  const canDownload = page.dataset.canDownload === "true";
  const maxDegrees = parseFloat(page.dataset.maxDegrees) || 2;

  // Colours: keep in step with the .sw-* swatches in map.css.
  const FORECAST = ["#67000d", "#cb181d", "#fb6a4a", "#fcbba1", "#fff5f0"];
  const CRIME = ["#deebf7", "#9ecae1", "#4292c6", "#2171b5", "#08306b"];
  const EMERGING = {
    new: "#e7298a", intensifying: "#d95f02", persistent: "#7570b3", consecutive: "#1b9e77",
    diminishing: "#a6d854", sporadic: "#e6ab02", oscillating: "#b15928", historical: "#999999",
  };
  // What each emerging hot spot category means, in a line (trends/emerging.py has the exact rules).
  const EMERGING_TEXT = {
    new: "hot in the latest period only", consecutive: "hot for the last few periods in a row",
    intensifying: "hot most periods and getting hotter", persistent: "hot most periods, steady",
    diminishing: "hot most periods but cooling", sporadic: "hot on and off",
    oscillating: "hot now, cold earlier", historical: "hot most periods, not now",
  };
  const FORECAST_TOP = 0.25; // shade the riskiest quarter of the area; the rest stays clear
  const LAYER_NAMES = {
    areas: "Boundaries", forecast: "Forecast risk", hotspots: "Plan hot spots", crime: "Recorded crime",
    hubs: "Transport hubs", emerging: "Emerging hot spots", accountability: "Section 60 and operations",
  };
  const ORDER = ["areas", "forecast", "crime", "emerging", "accountability", "hotspots", "hubs"];

  // --- small helpers ----------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const fmt = (n, d = 0) => (n === null || n === undefined ? "–" :
    Number(n).toLocaleString("en-GB", { maximumFractionDigits: d, minimumFractionDigits: d }));
  function ordinal(k) {
    const s = k % 100 >= 11 && k % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[k % 10] || "th");
    return fmt(k) + s;
  }
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function monthLabel(ym) {
    const [y, m] = ym.split("-");
    return `${MONTHS[parseInt(m, 10) - 1]} ${y}`;
  }
  const nearText = (loc) => loc.replace(/^On or near /i, "");

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) { window.location.assign("/login?next=/map"); throw new Error("sign in again"); }
    if (!r.ok) throw new Error((body && body.error) || `the server answered ${r.status}`);
    return body;
  }

  // --- the map ----------------------------------------------------------------------------------------
  const map = L.map("map", { zoomSnap: 0.25, minZoom: 8, attributionControl: !!page.dataset.basemap });
  for (const name of ["areas", "forecast", "crime", "emerging", "accountability", "bcu", "hotspots", "hubs", "labels"]) {
    map.createPane(name);
  }
  if (page.dataset.basemap) {
    L.tileLayer(page.dataset.basemap, { maxZoom: 19, attribution: "basemap: as configured" }).addTo(map);
  }
  L.control.scale({ imperial: false }).addTo(map);
  page.leafletMap = map; // for anpr_map.js, which adds the ANPR layers for analysts

  let catalogue = null;
  const drawn = {};   // layer name -> Leaflet layer group
  const metas = {};   // layer name -> the collection's meta (for the legend)
  const errors = {};  // layer name -> message
  const tokens = {};  // layer name -> request counter, so a slow old answer never replaces a newer one
  let fetched = null; // L.LatLngBounds the drawn layers cover

  function filters() {
    const from = $("f-from").value, to = $("f-to").value;
    return {
      bcu: $("f-bcu").value, target: $("f-target").value, source: $("f-source").value,
      months: from && to ? (from <= to ? `${from}:${to}` : `${to}:${from}`) : "",
      run: $("f-run").value, plan: $("f-plan").value, kind: $("f-kind").value, mode: $("f-mode").value,
      cell: $("f-cell").value, hubKind: $("f-hubkind").value,
    };
  }
  const enabled = (name) => { const box = $("l-" + name); return !!box && box.checked && !box.disabled; };

  function query(obj) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(obj)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
    return q.toString();
  }
  const bboxText = (b) => [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");

  function layerURL(name, box) {
    const f = filters();
    const bbox = box ? bboxText(box) : "";
    switch (name) {
      case "areas": return "/api/layers/areas?" + query({ kind: f.kind, bcu: f.bcu, bbox });
      case "forecast": return `/api/forecasts/${encodeURIComponent(f.run)}/geojson?` + query({ bcu: f.bcu, bbox, top: FORECAST_TOP });
      case "hotspots": return "/api/layers/hotspots?" + query({ plan_id: f.plan, bcu: f.bcu, bbox });
      case "crime": return "/api/layers/crime?" + query({ mode: f.mode, target: f.target, months: f.months, bcu: f.bcu, source: f.source, cell: f.cell, bbox });
      case "hubs": return "/api/layers/hubs?" + query({ kind: f.hubKind, bcu: f.bcu, bbox, run_id: f.run });
      case "emerging": return "/api/layers/emerging?" + query({ run_id: f.run, bcu: f.bcu, bbox });
      case "accountability": return "/api/layers/accountability?" + query({ bbox });
    }
    return null;
  }

  function fetchBox() {
    // The view with a margin, so small pans need no new request; within the API's limit.
    let box = map.getBounds().pad(0.3);
    const wide = (b) => b.getEast() - b.getWest() > maxDegrees || b.getNorth() - b.getSouth() > maxDegrees;
    if (wide(box)) box = map.getBounds();
    return wide(box) ? null : box;
  }

  function refresh(force) {
    const view = map.getBounds();
    if (!force && fetched && fetched.contains(view)) return;
    const box = fetchBox();
    if (!box) {
      for (const name of ORDER) clear(name);
      setStatus("Zoom in to see the layers: the view is wider than " + maxDegrees + " degrees.");
      return;
    }
    fetched = box;
    for (const name of ORDER) {
      if (enabled(name)) load(name, box);
      else { tokens[name] = (tokens[name] || 0) + 1; clear(name); delete metas[name]; delete errors[name]; }
    }
    legend();
  }

  function clear(name) {
    if (drawn[name]) { map.removeLayer(drawn[name]); delete drawn[name]; }
  }

  async function load(name, box) {
    const token = (tokens[name] = (tokens[name] || 0) + 1);
    const url = layerURL(name, box);
    try {
      const data = await getJSON(url);
      if (token !== tokens[name]) return;
      clear(name);
      drawn[name] = DRAW[name](data).addTo(map);
      metas[name] = Object.assign({ url }, data.meta);
      delete errors[name];
    } catch (err) {
      if (token !== tokens[name]) return;
      clear(name);
      delete metas[name];
      errors[name] = err.message;
    }
    legend();
    showStatus();
  }

  function setStatus(text) { $("map-status").textContent = text; }
  function showStatus() {
    const lines = [];
    for (const name of ORDER) {
      if (errors[name] && enabled(name)) lines.push(`${LAYER_NAMES[name]}: ${errors[name]}`);
      const notes = metas[name] && metas[name].notes;
      if (notes && enabled(name)) for (const n of notes) lines.push(`${LAYER_NAMES[name]}: ${n}`);
    }
    setStatus(lines.join("\n"));
  }

  // --- drawing each layer -----------------------------------------------------------------------------
  // Tooltip text goes in as a text node, never as HTML: place names come from loaded files.
  const textNode = (text, cls) => el("div", { class: cls || "tip", text });
  function tip(layer, text, opts) { layer.bindTooltip(textNode(text), Object.assign({ sticky: true }, opts || {})); }

  // A forecast cell's count with its predictive interval, when the run was made with intervals.
  function countRange(p, meta) {
    if (p.lower === null || p.lower === undefined || p.upper === null || p.upper === undefined) return "";
    const level = meta.intervals && meta.intervals.level ? Math.round(meta.intervals.level * 100) : 80;
    return `\nexpected count ${fmt(p.expected_count, 1)} (${level}% interval ${fmt(p.lower)}–${fmt(p.upper)})`;
  }

  const DRAW = {
    areas(data) {
      const kind = data.meta.kind;
      const labelled = kind === "borough" || kind === "bcu";
      return L.geoJSON(data, {
        pane: "areas",
        style: () => ({ color: "#3d4650", weight: kind === "lsoa" ? 0.8 : 1.6, fillColor: "#ffffff", fillOpacity: 0.01 }),
        onEachFeature(f, layer) {
          const p = f.properties;
          const where = p.bcu_name && kind !== "bcu" ? ` (${p.bcu_name} BCU)` : "";
          if (labelled) {
            layer.bindTooltip(textNode(p.name, "label-text"), { permanent: true, direction: "center", className: "area-label" + (kind === "bcu" ? " bcu-label" : ""), pane: "labels" });
          } else {
            tip(layer, `${p.name}${where}`);
          }
          layer.on("click", () => { select(f); showArea(kind, p.code, p.name); });
        },
      });
    },
    forecast(data) {
      return L.geoJSON(data, {
        pane: "forecast",
        style: (f) => ({ color: "#ffffff", weight: 0.4, fillColor: FORECAST[f.properties.band - 1], fillOpacity: 0.8 }),
        onEachFeature(f, layer) {
          const p = f.properties;
          tip(layer, `Rank ${ordinal(p.rank)} of ${fmt(p.of)} · ${p.band_label}\n${p.borough || ""}${p.bcu_name ? ", " + p.bcu_name + " BCU" : ""} · expected harm ${fmt(p.harm_week)} a week${countRange(p, data.meta)}`);
          layer.on("click", () => { select(f); showUnit(p.unit_id, data.meta.run_id); });
        },
      });
    },
    crime(data) {
      if (data.meta.mode === "points") {
        return L.geoJSON(data, {
          pane: "crime",
          pointToLayer: (f, ll) => L.circleMarker(ll, { pane: "crime", radius: 3.5, color: "#ffffff", weight: 1, fillColor: "#08519c", fillOpacity: 0.85 }),
          onEachFeature(f, layer) {
            const p = f.properties;
            tip(layer, `${p.crime_type}, ${monthLabel(p.month)}\n${p.location || ""}${p.outcome ? "\n" + p.outcome : ""}`);
          },
        });
      }
      const breaks = crimeBreaks(data.features.map((f) => f.properties.events));
      data.meta.breaks = breaks;
      return L.geoJSON(data, {
        pane: "crime",
        style: (f) => ({ color: "#ffffff", weight: 0.4, fillColor: CRIME[crimeClass(f.properties.events, breaks)], fillOpacity: 0.85 }),
        onEachFeature(f, layer) {
          const p = f.properties;
          tip(layer, `${fmt(p.events)} crimes recorded in this ${fmt(data.meta.cell_m)} m square (${fmt(p.per_month, 1)} a month)`);
          layer.on("click", () => { select(f); showUnit(p.cell, $("f-run").value, true); });
        },
      });
    },
    hotspots(data) {
      const group = L.layerGroup();
      L.geoJSON(data, {
        pane: "hotspots",
        style: () => ({ color: "#3f007d", weight: 3, fillOpacity: 0 }),
        onEachFeature(f, layer) {
          const p = f.properties;
          layer.on("click", () => { select(f); showUnit(p.unit_id, data.meta.forecast_run_id); });
        },
      }).addTo(group);
      for (const f of data.features) {
        const p = f.properties;
        const [lon, lat] = p.label_point;
        const icon = L.divIcon({ className: "hs-badge", html: el("span", { text: String(p.hotspot) }), iconSize: [21, 21] });
        const marker = L.marker([lat, lon], { icon, pane: "hotspots", keyboard: true, title: `Hot spot ${p.hotspot}`, riseOnHover: true });
        tip(marker, `Hot spot ${p.hotspot}: ${p.borough || ""}${p.bcu_name ? ", " + p.bcu_name + " BCU" : ""}\n${p.visits_per_day} visits a day on average (${p.shifts.join(", ")}) · expected harm ${fmt(p.harm_week)} a week`, { sticky: false, direction: "top", offset: [0, -10] });
        marker.on("click", () => { select(f); showUnit(p.unit_id, data.meta.forecast_run_id); });
        marker.addTo(group);
      }
      return group;
    },
    hubs(data) {
      return L.geoJSON(data, {
        pane: "hubs",
        pointToLayer(f, ll) {
          const p = f.properties;
          const icon = L.divIcon({ className: "hub-badge" + (p.rank ? "" : " unranked"), html: el("span", { text: p.rank ? "H" + p.rank : "H" }), iconSize: [p.rank ? 28 : 20, 18] });
          return L.marker(ll, { icon, pane: "hubs", title: p.name, keyboard: true });
        },
        onEachFeature(f, layer) {
          const p = f.properties;
          tip(layer, `${p.name}${p.rank ? ` · hub rank ${p.rank} of ${p.of}` : ""}${p.busiest ? "\nbusiest " + p.busiest : ""}`, { sticky: false, direction: "top", offset: [0, -10] });
          layer.on("click", () => showHub(p));
        },
      });
    },
    emerging(data) {
      return L.geoJSON(data, {
        pane: "emerging",
        style: (f) => {
          const c = f.properties.category;
          const colour = EMERGING[c] || "#8da0cb";
          return { color: colour, weight: 2.5, dashArray: "5 3", fillColor: colour, fillOpacity: 0.35 };
        },
        onEachFeature(f, layer) {
          const p = f.properties;
          tip(layer, `${p.category} hot spot: ${EMERGING_TEXT[p.category] || "a cold spot"}\nlast period ${fmt(p.last_count)} crimes, ${fmt(p.mean_count, 1)} a period on average`);
          layer.on("click", () => { select(f); showUnit(p.unit_id, data.meta.run_id); });
        },
      });
    },
  };

  // Section 60 areas (red, dashed when flagged) and operations' polygons (blue): outlines with a tooltip.
  DRAW.accountability = function (data) {
    return L.geoJSON(data, {
      pane: "accountability",
      style: (f) => (f.properties.layer === "s60"
        ? { color: "#c62828", weight: 2.5, dashArray: f.properties.verdict === "flagged" ? "6 4" : null, fillOpacity: 0.08 }
        : { color: "#1565c0", weight: 2, fillOpacity: 0.05 }),
      onEachFeature(f, layer) {
        const p = f.properties;
        tip(layer, p.layer === "s60"
          ? `Section 60 ${p.reference || p.id}: ${p.place || "polygon"}\n${p.starts_at} to ${p.final_end} (${p.verdict})\n${fmt(p.searches)} searches, ${fmt(p.arrests)} arrests`
          : `Operation ${p.name}\n${p.start} to ${p.end}\n${p.headline}`);
      },
    });
  };

  // The clicked unit or area, outlined so the details panel and the map visibly agree.
  let selected = null;
  function select(feature) {
    if (selected) map.removeLayer(selected);
    selected = null;
    if (!feature || !feature.geometry || feature.geometry.type === "Point") return;
    selected = L.geoJSON(feature, { pane: "labels", interactive: false, style: () => ({ color: "#00b8d4", weight: 4, fill: false }) }).addTo(map);
  }

  function crimeBreaks(values) {
    // Upper bounds of five classes: quantiles of the counts, so the busiest squares stand out.
    if (!values.length) return [0, 0, 0, 0, 0];
    const s = values.slice().sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
    const out = [q(0.5), q(0.75), q(0.9), q(0.97), s[s.length - 1]];
    for (let i = 1; i < out.length; i++) if (out[i] <= out[i - 1]) out[i] = out[i - 1] + 1;
    return out;
  }
  function crimeClass(n, breaks) {
    for (let i = 0; i < breaks.length; i++) if (n <= breaks[i]) return i;
    return breaks.length - 1;
  }

  // --- legend ------------------------------------------------------------------------------------------
  function swatch(cls) { return el("span", { class: "sw " + cls, "aria-hidden": "true" }); }
  function item(cls, text) { return el("li", {}, swatch(cls), el("span", { text })); }
  function download(name) {
    if (!canDownload || !metas[name]) return null;
    const url = metas[name].url + (metas[name].url.includes("?") ? "&" : "?") + "download=true";
    return el("a", { href: url, text: "download GeoJSON" });
  }

  function legend() {
    const box = $("legend");
    box.replaceChildren();
    const f = filters();
    if (metas.forecast) {
      const m = metas.forecast;
      box.append(el("h3", { text: `Forecast: ${m.target}, ${m.window[0].slice(0, 10)} (${m.horizon})` }),
        el("p", { text: `Cells ranked by expected ${m.rank_by === "harm" ? "harm" : "crimes"} per km² (model ${m.model}). Shaded: the riskiest quarter of the area.` }));
      const ul = el("ul");
      (m.bands || []).slice(0, 4).forEach((label, i) => ul.append(item("sw-f" + (i + 1), label)));
      ul.append(el("li", {}, swatch("sw-area"), el("span", { text: "no shading: the other 75%" })));
      box.append(ul);
      if (m.warning) box.append(el("p", { class: "warn", text: m.warning }));
      const d = download("forecast"); if (d) box.append(d);
    }
    if (metas.hotspots) {
      const m = metas.hotspots;
      box.append(el("h3", { text: `Plan ${m.plan_id}: week of ${m.week_start}` }),
        el("ul", {}, el("li", {}, el("span", { class: "sw-hs", "aria-hidden": "true", text: "1" }), el("span", { text: `patrol hot spot, numbered as in the plan and on the patrol cards (${m.count} shown)` }))));
      const d = download("hotspots"); if (d) box.append(d);
    }
    if (metas.crime) {
      const m = metas.crime;
      const when = m.months ? (m.months[0] === m.months[1] ? monthLabel(m.months[0]) : `${monthLabel(m.months[0])} to ${monthLabel(m.months[1])}`) : "";
      box.append(el("h3", { text: `Recorded crime: ${m.target}` }), el("p", { text: `${when}, ${m.source}; ${fmt(m.events)} crimes.` }));
      if (m.mode === "points") {
        box.append(el("ul", {}, item("sw-dot", "one recorded crime (police.uk places crimes at nearby snap points)")));
      } else if (m.breaks) {
        const ul = el("ul");
        let lo = 1;
        m.breaks.forEach((hi, i) => { ul.append(item("sw-c" + (i + 1), lo >= hi ? `${fmt(hi)} crimes` : `${fmt(lo)}–${fmt(hi)} crimes`)); lo = hi + 1; });
        box.append(el("p", { text: `per ${fmt(m.cell_m)} m square:` }), ul);
      }
      const d = download("crime"); if (d) box.append(d);
    }
    if (metas.emerging) {
      const m = metas.emerging;
      box.append(el("h3", { text: "Emerging hot spots" }), el("p", { text: `Change in clustering over ${m.window}; counts are for the whole forecast area.` }));
      const ul = el("ul");
      const seen = new Set(Object.keys(m.summary || {}).filter((k) => k !== "no pattern"));
      for (const [cat] of Object.entries(EMERGING)) if (seen.has(cat)) ul.append(item("sw-e-" + cat, `${cat}: ${EMERGING_TEXT[cat]} (${m.summary[cat]})`));
      if ([...seen].some((k) => k.endsWith("cold"))) ul.append(item("sw-e-cold", "cold spots"));
      if (!seen.size) ul.append(el("li", { text: "no unit shows a pattern" }));
      box.append(ul);
    }
    if (metas.hubs) {
      const m = metas.hubs;
      box.append(el("h3", { text: "Transport hubs" }),
        el("ul", {}, el("li", {}, el("span", { class: "sw-hub", "aria-hidden": "true", text: "H1" }), el("span", { text: m.ranked ? "station or hub, H1 = ranked 1st for knife arches and drug dogs" : "station or hub (not ranked)" }))));
    }
    if (metas.areas) {
      const m = metas.areas;
      const kind = { borough: "borough", bcu: "BCU", lsoa: "LSOA" }[m.kind] || m.kind;
      box.append(el("h3", { text: "Boundaries" }), el("ul", {},
        el("li", {}, swatch("sw-bcu"), el("span", { text: "BCU boundary" })),
        el("li", {}, swatch("sw-area"), el("span", { text: `${kind} boundary (click for its history)` }))));
    }
    if (f.bcu) box.append(el("p", { text: `Showing ${$("f-bcu").selectedOptions[0].textContent} BCU only.` }));
  }

  // --- the BCU outlines, drawn once as the base -----------------------------------------------------
  async function drawBase() {
    if (!catalogue.area_kinds.includes("bcu")) return;
    try {
      const data = await getJSON("/api/layers/areas?kind=bcu");
      L.geoJSON(data, { pane: "bcu", interactive: false, style: () => ({ color: "#1b1f24", weight: 3, fill: false }) }).addTo(map);
    } catch (err) { /* the base is a nicety: the layers still draw */ }
  }

  // --- details panel ------------------------------------------------------------------------------------
  const detail = $("detail");
  let detailToken = 0;

  function detailLoading(title) {
    detail.replaceChildren(el("h2", { text: title }), el("p", { class: "muted", text: "Loading…" }));
  }

  async function showUnit(unitId, runId, fromCrime) {
    const token = ++detailToken;
    detailLoading(`Cell ${unitId}`);
    const f = filters();
    const url = `/api/layers/units/${encodeURIComponent(unitId)}?` + query({ run_id: runId, target: f.target, source: f.source });
    try {
      const d = await getJSON(url);
      if (token !== detailToken) return;
      renderUnit(d);
    } catch (err) {
      if (token !== detailToken) return;
      const text = fromCrime ? "This square is outside the chosen forecast's area, so it has no rank." : err.message;
      detail.replaceChildren(el("h2", { text: `Square ${unitId}` }), el("p", { text }));
    }
  }

  async function showArea(kind, code, name) {
    const token = ++detailToken;
    detailLoading(name || code);
    const f = filters();
    const url = `/api/layers/areas/${encodeURIComponent(kind)}/${encodeURIComponent(code)}?` + query({ run_id: f.run, target: f.target, source: f.source });
    try {
      const d = await getJSON(url);
      if (token !== detailToken) return;
      renderArea(d);
    } catch (err) {
      if (token !== detailToken) return;
      detail.replaceChildren(el("h2", { text: name || code }), el("p", { text: err.message }));
    }
  }

  function showHub(p) {
    ++detailToken;
    const nodes = [el("h2", { text: p.name }),
      el("p", { class: "sub", text: p.rank ? `Transport hub, ranked ${ordinal(p.rank)} of ${p.of} for knife arches and drug dogs` : "Transport hub (not ranked)" })];
    if (p.reasons && p.reasons.length) nodes.push(el("h3", { text: "Why" }), el("ul", { class: "why" }, ...p.reasons.map((r) => el("li", { text: r }))));
    detail.replaceChildren(...nodes);
  }

  function placeLine(d) {
    const parts = [];
    if (d.borough) parts.push(d.borough);
    if (d.bcu_name) parts.push(`${d.bcu_name} BCU`);
    if (d.near && d.near.length) parts.push("near " + nearText(d.near[0].location));
    return parts.join(" · ");
  }

  function renderUnit(d) {
    const what = d.run.cell_size ? `${fmt(d.run.cell_size)} m square` : d.run.units_kind;
    const nodes = [
      el("h2", { text: d.near && d.near.length ? `Near ${nearText(d.near[0].location)}${d.borough ? ", " + d.borough : ""}` : `Cell ${d.unit_id}` }),
      el("p", { class: "sub", text: `${what} ${d.unit_id} · ${placeLine(d)}` }),
      el("p", {}, el("strong", { text: `Rank ${ordinal(d.rank)} of ${fmt(d.of)}` }), document.createTextNode(` · ${d.band_label}`)),
      el("ul", { class: "why" }, ...d.why.map((w) => el("li", { text: w }))),
    ];
    nodes.push(...historyNodes(d.history, d.run && sameTarget(d) ? { label: monthLabel(d.run.window[0].slice(0, 7)) + " forecast", short: monthLabel(d.run.window[0].slice(0, 7)).replace(" 20", " '"), value: d.expected_count, horizon: d.run.horizon } : null));
    if (d.neighbours && d.neighbours.length) {
      const rows = d.neighbours.slice().sort((a, b) => a.rank - b.rank).map((n) =>
        el("tr", {}, el("td", { text: n.direction }), el("td", { class: "num", text: ordinal(n.rank) }), el("td", { class: "num", text: fmt(n.expected_harm) })));
      rows.unshift(el("tr", { class: "rank-me" }, el("td", { text: "this cell" }), el("td", { class: "num", text: ordinal(d.rank) }), el("td", { class: "num", text: fmt(d.expected_harm) })));
      rows.sort((a, b) => parseInt(a.children[1].textContent.replace(/\D/g, ""), 10) - parseInt(b.children[1].textContent.replace(/\D/g, ""), 10));
      nodes.push(el("h3", { text: "Neighbours" }), el("table", {},
        el("thead", {}, el("tr", {}, el("th", { text: "where" }), el("th", { class: "num", text: "rank" }), el("th", { class: "num", text: "expected harm" }))),
        el("tbody", {}, ...rows)));
    }
    if (d.near && d.near.length > 1) {
      nodes.push(el("h3", { text: "Where crimes here are recorded" }), el("ul", { class: "why" }, ...d.near.map((n) => el("li", { text: `${nearText(n.location)}: ${fmt(n.events)}` }))));
    }
    detail.replaceChildren(...nodes);
  }

  function sameTarget(d) {
    // The forecast bar belongs on the chart only when the chart counts what the forecast counts.
    const a = (d.history.types || []).slice().sort().join("|"), b = (d.run.types || []).slice().sort().join("|");
    return a !== "" && a === b && d.history.source === d.run.source;
  }

  function renderArea(d) {
    const kind = { borough: "Borough", bcu: "BCU", lsoa: "LSOA" }[d.area_kind] || d.area_kind;
    const nodes = [
      el("h2", { text: d.name }),
      el("p", { class: "sub", text: `${kind} ${d.code}${d.bcu_name && d.area_kind !== "bcu" ? " · " + d.bcu_name + " BCU" : ""}${d.population ? " · population " + fmt(d.population) : ""}` }),
      el("ul", { class: "why" }, ...d.why.map((w) => el("li", { text: w }))),
    ];
    nodes.push(...historyNodes(d.history, null));
    detail.replaceChildren(...nodes);
  }

  function historyNodes(h, forecast) {
    const per = h.period === "week" ? "week" : "month";
    const out = [el("h3", { text: `Recorded ${h.target} per ${per} (${h.source})` })];
    if (!h.series.length) { out.push(el("p", { text: "No data." })); return out; }
    out.push(chart(h.series, forecast));
    for (const n of h.notes || []) out.push(el("p", { class: "warn", text: n }));
    return out;
  }

  // --- the history chart: plain SVG -----------------------------------------------------------------
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chart(series, forecast) {
    const W = 340, H = 170, left = 30, right = 14, top = 10, bottom = 34;
    const bars = series.map((s) => ({ label: s.period, value: s.events, gap: s.events === null }));
    if (forecast && forecast.horizon === "1m") bars.push({ label: forecast.label, short: forecast.short, value: forecast.value, forecast: true });
    const max = Math.max(1, ...bars.map((b) => b.value || 0));
    const step = (W - left - right) / bars.length;
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
      "aria-label": "Crimes recorded per period" + (forecast ? ", with the forecast for the next month" : "") });
    const ticks = niceTicks(max);
    for (const t of ticks) {
      root.append(svg("line", { x1: left, x2: W - right, y1: y(t), y2: y(t), stroke: "#e3e6ea" }));
      root.append(svg("text", { x: left - 4, y: y(t) + 3, "text-anchor": "end" }, fmt(t)));
    }
    root.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: y(0), y2: y(0) }));
    const every = Math.max(1, Math.ceil(bars.length / 8));
    bars.forEach((b, i) => {
      const x = left + i * step + step * 0.12, w = step * 0.76;
      let node;
      if (b.gap) {
        node = svg("rect", { x, y: top, width: w, height: H - top - bottom, fill: "#eeeeee", stroke: "#aaaaaa", "stroke-dasharray": "2 2" });
        node.append(svg("title", {}, `${b.label}: no data (missing, not zero)`));
      } else {
        node = svg("rect", { x, y: y(b.value), width: w, height: Math.max(0, y(0) - y(b.value)), class: b.forecast ? "bar forecast" : "bar" });
        node.append(svg("title", {}, b.forecast ? `${b.label}: ${fmt(b.value, 1)} expected` : `${b.label}: ${fmt(b.value)} recorded`));
      }
      root.append(node);
      if (i % every === 0 || b.forecast) {
        const text = /^\d{4}-\d{2}$/.test(b.label) ? monthLabel(b.label).replace(" 20", " '") : (b.forecast ? b.short : b.label.slice(5));
        root.append(svg("text", { x: x + w / 2, y: H - bottom + 12, "text-anchor": "middle" }, text));
      }
    });
    root.append(svg("text", { x: left, y: H - 6 }, forecast ? "blue: recorded · red: forecast for the next month" : "bars: crimes recorded"));
    return root;
  }

  function niceTicks(max) {
    const raw = max / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let t = 0; t <= max + 1e-9; t += step) out.push(Math.round(t * 1000) / 1000);
    return out;
  }

  // --- wiring ------------------------------------------------------------------------------------------
  function fitTo(bounds) {
    if (!bounds) return;
    map.fitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], { padding: [10, 10] });
  }

  function onFilter(ev) {
    const id = ev.target.id;
    if (id === "f-bcu") {
      const code = ev.target.value;
      const b = catalogue.bcus.find((x) => x.code === code);
      fetched = null;
      fitTo(b && b.bbox ? b.bbox : catalogue.bounds);
    }
    if (id === "f-source") {
      const months = (catalogue.sources[ev.target.value] || {}).months || [];
      for (const sel of [$("f-from"), $("f-to")]) {
        const keep = sel.value;
        sel.replaceChildren(...months.map((m) => el("option", { value: m, text: m })));
        sel.value = months.includes(keep) ? keep : (sel.id === "f-to" ? months[months.length - 1] : months[Math.max(0, months.length - 3)]);
      }
    }
    refresh(true);
  }

  async function start() {
    try {
      catalogue = await getJSON(page.dataset.catalogue);
    } catch (err) {
      setStatus("The map cannot load: " + err.message);
      return;
    }
    if (!catalogue.bounds) { setStatus("Nothing to map yet: load boundaries or crime data first."); return; }
    fitTo(catalogue.bounds);
    await drawBase();
    $("map-filters").addEventListener("change", onFilter);
    $("map-filters").addEventListener("submit", (e) => e.preventDefault());
    map.on("moveend", () => refresh(false));
    refresh(true);
  }

  start();
})();
