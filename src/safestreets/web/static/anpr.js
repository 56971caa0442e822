// The ANPR alerts table: ask the JSON endpoint for alerts newer than the newest shown, every two seconds,
// and put them on top. Text only (textContent), never markup from the server.
(function () {
  "use strict";
  const table = document.getElementById("anpr-alerts");
  if (!table) return;
  const body = table.tBodies[0];
  const csrf = table.dataset.csrf;
  let after = Number(table.dataset.after || 0);

  function cell(row, text, cls) {
    const td = row.insertCell();
    td.textContent = text == null ? "–" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  function ackForm(id) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/anpr/alerts/" + encodeURIComponent(id) + "/ack";
    const token = document.createElement("input");
    token.type = "hidden"; token.name = "csrf_token"; token.value = csrf;
    const button = document.createElement("button");
    button.type = "submit"; button.textContent = "Acknowledge";
    form.append(token, button);
    return form;
  }

  async function poll() {
    try {
      const r = await fetch("/api/anpr/alerts?after=" + after, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!r.ok) return;
      const alerts = await r.json();
      for (const a of alerts.reverse()) {  // oldest first, each inserted on top
        const row = body.insertRow(0);
        row.className = "alert";
        cell(row, a.id);
        cell(row, a.read_at.replace("T", " ").slice(0, 19));
        cell(row, a.camera_id);
        const v = cell(row, ""); const code = document.createElement("code"); code.textContent = a.vehicle; v.replaceChildren(code);
        cell(row, a.reason + " (" + a.source + ")");
        cell(row, a.kind);
        cell(row, a.latency_ms, "num");
        cell(row, "").append(ackForm(a.id));
        after = Math.max(after, a.id);
      }
      if (alerts.length) document.getElementById("anpr-empty").hidden = true;
    } finally {
      setTimeout(poll, 2000);
    }
  }
  setTimeout(poll, 2000);
})();
