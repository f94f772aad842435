// wardstream dashboard: keeps a copy of the views from the server's event stream
// (/v1/dashboard/stream, server-sent events) and draws the tiles as SVG and tables.
// No dependencies. The stream's first event is a snapshot (every row with its multiplicity);
// each later event holds the net changes up to a new frontier. On reconnect the browser sends
// the last event id (a frontier) and the server resumes after it, without gaps or repeats.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  // view name -> Map(row key -> {row, n})
  const views = new Map();
  let frontier = null;
  let applied = 0;
  // Greatest event time in the views (ms): the data's "now", far from the wall clock in a replay.
  let asOf = null;

  function table(name) {
    if (!views.has(name)) views.set(name, new Map());
    return views.get(name);
  }

  function apply(message, snapshot) {
    if (snapshot) views.clear();
    for (const [name, delta] of Object.entries(message.views)) {
      const t = table(name);
      delta.rows.forEach((row, i) => {
        const key = JSON.stringify(row);
        const d = delta.diffs[i];
        const cur = t.get(key);
        const n = (cur ? cur.n : 0) + d;
        if (n === 0) t.delete(key);
        else t.set(key, { row, n });
      });
    }
    frontier = message.frontier;
    if (message.as_of) asOf = Date.parse(message.as_of);
    applied += 1;
    render();
  }

  function rows(name) {
    const out = [];
    for (const { row, n } of table(name).values()) for (let i = 0; i < n; i++) out.push(row);
    return out;
  }

  function el(tag, attrs, text) {
    const e = tag.startsWith("svg:")
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function replace(id, node) {
    const host = document.getElementById(id);
    if (host) host.replaceChildren(node);
  }

  // Long names are cut to fit beside the bars; the whole name is the element's title.
  function clip(text, n) {
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  const fmtInt = new Intl.NumberFormat("en-US");
  function pct(x) {
    return (100 * x).toFixed(0) + "%";
  }
  function dayOf(v) {
    // Arrow JSON writes timestamps as "YYYY-MM-DDTHH:MM:SS" (UTC) strings.
    return String(v).slice(0, 10);
  }
  function timeOf(v) {
    // With or without a zone (the views' timestamps are UTC).
    const s = String(v);
    return Date.parse(/([Zz]|[+-]\d\d:?\d\d)$/.test(s) ? s : s + "Z");
  }

  function barChart(id, title, bars, unit) {
    // bars: [{label, value, max, text, cls, data}]; horizontal bars, one per line.
    const width = 560, row = 28, labelW = 210, barW = width - labelW - 120;
    const h = Math.max(row, bars.length * row);
    const svg = el("svg:svg", {
      viewBox: `0 0 ${width} ${h}`, width: "100%", role: "img",
      "aria-label": title + ": " + bars.map((b) => `${b.label} ${b.text}`).join("; "),
    });
    svg.appendChild(el("svg:title", {}, title));
    bars.forEach((b, i) => {
      const g = el("svg:g", Object.assign({ transform: `translate(0 ${i * row})`, class: "bar " + (b.cls || "") }, b.data || {}));
      g.appendChild(el("svg:title", {}, `${b.label}: ${b.text}`));
      g.appendChild(el("svg:text", { x: 0, y: 19, class: "label" }, clip(b.label, 28)));
      g.appendChild(el("svg:rect", { x: labelW, y: 6, width: barW, height: 16, class: "track" }));
      const w = b.max > 0 ? Math.min(1, b.value / b.max) * barW : 0;
      g.appendChild(el("svg:rect", { x: labelW, y: 6, width: w.toFixed(1), height: 16, class: "fill" }));
      g.appendChild(el("svg:text", { x: labelW + barW + 8, y: 19, class: "value" }, b.text));
      svg.appendChild(g);
    });
    if (bars.length === 0) {
      svg.appendChild(el("svg:text", { x: 0, y: 19, class: "empty" }, "No " + unit + " yet"));
    }
    replace(id, svg);
  }

  function columnChart(id, title, cols, fmt) {
    // cols: [{label, value}]; vertical bars over time.
    const width = 520, height = 160, pad = 24;
    const max = Math.max(1, ...cols.map((c) => c.value));
    const w = cols.length ? (width - pad) / cols.length : 0;
    const svg = el("svg:svg", {
      viewBox: `0 0 ${width} ${height + 20}`, width: "100%", role: "img",
      "aria-label": title + ": " + (cols.length ? cols.map((c) => `${c.label} ${fmt(c.value)}`).join("; ") : "no data yet"),
    });
    svg.appendChild(el("svg:title", {}, title));
    svg.appendChild(el("svg:text", { x: 0, y: 12, class: "axis" }, fmt(max)));
    cols.forEach((c, i) => {
      const h = (c.value / max) * (height - pad);
      const g = el("svg:g", { class: "col", "data-label": c.label, "data-value": String(c.value) });
      if (c.hour) g.setAttribute("data-hour", c.hour);
      g.appendChild(el("svg:rect", { x: (pad + i * w + 1).toFixed(1), y: (height - h).toFixed(1), width: Math.max(1, w - 2).toFixed(1), height: h.toFixed(1), class: "fill" }));
      g.appendChild(el("svg:title", {}, `${c.label}: ${fmt(c.value)}`));
      svg.appendChild(g);
    });
    if (cols.length) {
      svg.appendChild(el("svg:text", { x: pad, y: height + 16, class: "axis" }, cols[0].label));
      svg.appendChild(el("svg:text", { x: width, y: height + 16, class: "axis", "text-anchor": "end" }, cols[cols.length - 1].label));
    } else {
      svg.appendChild(el("svg:text", { x: pad, y: height / 2, class: "empty" }, "No data yet"));
    }
    replace(id, svg);
  }

  // Several tenants (only without accounts): name the tenant beside the unit.
  function tenantLabel(rs, r, name) {
    const many = new Set(rs.map((x) => x.tenant_id)).size > 1;
    return many ? `${r.tenant_id} · ${name}` : name;
  }

  // The emergency department, as the generator ("ED") and MIMIC-IV ("Emergency Department")
  // name it.
  function isEd(unit) {
    return unit === "ED" || /emergency/i.test(unit);
  }

  function renderCensus() {
    const units = rows("census").sort((a, b) => a.tenant_id.localeCompare(b.tenant_id) || a.care_unit.localeCompare(b.care_unit));
    const maxPatients = Math.max(1, ...units.map((u) => u.patients));
    barChart("census-chart", "Census per care unit", units.map((u) => {
      const occ = u.beds ? u.patients / u.beds : null;
      return {
        label: tenantLabel(units, u, u.care_unit),
        value: u.patients,
        max: u.beds || maxPatients,
        text: u.beds ? `${u.patients} / ${u.beds} (${pct(occ)})` : `${u.patients}`,
        cls: occ === null ? "" : occ >= 0.95 ? "critical" : occ >= 0.85 ? "warning" : "",
        data: { "data-tenant": u.tenant_id, "data-unit": u.care_unit, "data-patients": String(u.patients), "data-beds": u.beds == null ? "" : String(u.beds) },
      };
    }), "patients");
    const total = units.reduce((s, u) => s + u.patients, 0);
    setText("census-total", fmtInt.format(total));
  }

  function renderAlerts() {
    const now = asOf || Date.now();
    const alerts = rows("alerts").sort((a, b) => b.score - a.score || a.patient_id.localeCompare(b.patient_id));
    const tbody = document.createDocumentFragment();
    for (const a of alerts) {
      const tr = el("tr", { "data-tenant": a.tenant_id, "data-patient": a.patient_id, "data-score": String(a.score), "data-previous": a.previous_score == null ? "" : String(a.previous_score), "data-unit": a.care_unit == null ? "" : a.care_unit, class: "risk-" + a.response });
      // Trend: the score against the one just before the latest observation (the view's).
      const prev = a.previous_score;
      const trend = prev == null ? "—" : a.score > prev ? `▲ +${a.score - prev}` : a.score < prev ? `▼ ${a.score - prev}` : "=";
      const mins = Math.max(0, Math.round((now - timeOf(a.last_observed)) / 60000));
      const ago = isFinite(mins) ? (mins < 90 ? `${mins} min` : `${Math.round(mins / 60)} h`) : "—";
      tr.appendChild(el("th", { scope: "row" }, a.patient_id));
      tr.appendChild(el("td", {}, a.care_unit == null ? "—" : a.care_unit));
      tr.appendChild(el("td", { class: "num" }, String(a.score)));
      tr.appendChild(el("td", {}, a.response + (a.red_flag ? " (red flag)" : "")));
      tr.appendChild(el("td", {}, trend));
      tr.appendChild(el("td", { class: "num", title: String(a.last_observed) }, ago));
      tbody.appendChild(tr);
    }
    replace("alerts-body", tbody.childNodes.length ? tbody : emptyRow(6, "No patient in house at medium or high risk"));
    setText("as-of", asOf ? "Data as of " + new Date(asOf).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "no events yet");
    setText("alerts-count", String(alerts.length));
  }

  function emptyRow(n, text) {
    const tr = el("tr");
    tr.appendChild(el("td", { colspan: String(n), class: "empty" }, text));
    return tr;
  }

  const HOUR = 3600000;

  // The 24 hours of data up to the data's now (as_of), as [start ms] oldest first.
  function lastDay() {
    const last = Math.floor((asOf || Date.now()) / HOUR) * HOUR;
    return Array.from({ length: 24 }, (_, i) => last - (23 - i) * HOUR);
  }

  function hourColumn(h, value) {
    const iso = new Date(h).toISOString();
    return { label: iso.slice(5, 13).replace("T", " ") + "h", value, hour: iso };
  }

  function renderEd() {
    // Arrivals into the ED per hour (admissions + transfers in), the last 24 hours of data.
    const byHour = new Map();
    for (const r of rows("adt_hourly")) {
      if (!isEd(r.care_unit)) continue;
      const h = timeOf(r.hour);
      byHour.set(h, (byHour.get(h) || 0) + r.admissions + r.transfers_in);
    }
    const cols = lastDay().map((h) => hourColumn(h, byHour.get(h) || 0));
    columnChart("ed-chart", "ED arrivals per hour", byHour.size ? cols : [], (v) => fmtInt.format(v));
    const inEd = rows("census").filter((u) => isEd(u.care_unit)).reduce((s, u) => s + u.patients, 0);
    setText("ed-now", fmtInt.format(inEd));
    renderBoarding();
  }

  function renderBoarding() {
    // Boarding (ACEP): admitted, still in the ED; from the decision to admit to leaving the
    // ED (the ed_boarding view). Patients boarding at any time in each of the 24 hours of data
    // up to the data's now (as_of), and those boarding now with the longest wait.
    const episodes = rows("ed_boarding").filter((b) => isEd(b.care_unit));
    const now = asOf || Date.now();
    const open = episodes.filter((b) => b.departed_at == null);
    setText("boarding-now", fmtInt.format(open.length));
    const longest = Math.max(0, ...open.map((b) => now - timeOf(b.decided_at)));
    setText("boarding-longest", open.length ? (longest / HOUR).toFixed(1) + " h" : "—");
    const cols = lastDay().map((h) => hourColumn(h, episodes.filter((b) => timeOf(b.decided_at) < h + HOUR && (b.departed_at == null || timeOf(b.departed_at) > h)).length));
    columnChart("boarding-chart", "Patients boarding in the ED per hour", episodes.length ? cols : [], (v) => fmtInt.format(v));
  }

  function renderNoShow() {
    // Rate per clinic: no-shows / (attended + no-shows), over every day in the view.
    const byClinic = new Map();
    for (const r of rows("no_show")) {
      const c = byClinic.get(r.clinic) || { attended: 0, no_shows: 0 };
      c.attended += r.attended;
      c.no_shows += r.no_shows;
      byClinic.set(r.clinic, c);
    }
    const clinics = [...byClinic.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    barChart("noshow-chart", "No-show rate per clinic", clinics.map(([clinic, c]) => {
      const resolved = c.attended + c.no_shows;
      const rate = resolved ? c.no_shows / resolved : 0;
      return {
        label: clinic, value: rate, max: 0.5,
        text: resolved ? `${pct(rate)} of ${fmtInt.format(resolved)}` : "—",
        data: { "data-clinic": clinic, "data-no-shows": String(c.no_shows), "data-resolved": String(resolved) },
      };
    }), "appointments");
  }

  function lineChart(id, title, series, days) {
    // series: [{name, points: Map(day -> value 0..1)}]; one line per series over `days`.
    const width = 520, height = 170, left = 34, bottom = 20, top = 6;
    const x = (i) => left + (days.length > 1 ? (i / (days.length - 1)) * (width - left - 90) : 0);
    const max = Math.max(0.05, ...series.flatMap((s) => [...s.points.values()]));
    const y = (v) => top + (1 - v / max) * (height - top - bottom);
    const svg = el("svg:svg", {
      viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
      "aria-label": title + ": " + (series.length ? series.map((s) => `${s.name} latest ${pct([...s.points.values()].slice(-1)[0] || 0)}`).join("; ") : "no data yet"),
    });
    svg.appendChild(el("svg:title", {}, title));
    svg.appendChild(el("svg:text", { x: 0, y: top + 10, class: "axis" }, pct(max)));
    svg.appendChild(el("svg:text", { x: 0, y: height - bottom, class: "axis" }, "0%"));
    const dashes = ["", "6 3", "2 3", "10 4 2 4", "1 2", "12 3"];
    series.forEach((s, k) => {
      const pts = days.map((d, i) => (s.points.has(d) ? `${x(i).toFixed(1)},${y(s.points.get(d)).toFixed(1)}` : null)).filter(Boolean);
      if (!pts.length) return;
      svg.appendChild(el("svg:polyline", { points: pts.join(" "), class: "line", "stroke-dasharray": dashes[k % dashes.length], "data-clinic": s.name }));
      const last = pts[pts.length - 1].split(",");
      svg.appendChild(el("svg:text", { x: Number(last[0]) + 4, y: Number(last[1]) + 4, class: "axis" }, s.name));
    });
    if (!series.length) {
      svg.appendChild(el("svg:text", { x: left, y: height / 2, class: "empty" }, "No data yet"));
    }
    if (days.length) {
      svg.appendChild(el("svg:text", { x: left, y: height - 4, class: "axis" }, days[0]));
      svg.appendChild(el("svg:text", { x: width - 90, y: height - 4, class: "axis", "text-anchor": "end" }, days[days.length - 1]));
    }
    replace(id, svg);
  }

  function renderNoShowTrend() {
    // Daily rate of the six busiest clinics, the last 30 days with resolved appointments.
    const volume = new Map(), daily = new Map();
    for (const r of rows("no_show")) {
      const resolved = r.attended + r.no_shows;
      if (!resolved) continue;
      volume.set(r.clinic, (volume.get(r.clinic) || 0) + resolved);
      const key = r.clinic + "\u0000" + dayOf(r.day);
      const c = daily.get(key) || { n: 0, of: 0 };
      c.n += r.no_shows; c.of += resolved;
      daily.set(key, c);
    }
    const busiest = [...volume.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 6).map((e) => e[0]);
    const days = [...new Set([...daily.keys()].map((k) => k.split("\u0000")[1]))].sort().slice(-30);
    lineChart("noshow-trend", "Daily no-show rate, busiest clinics", busiest.map((clinic) => ({
      name: clinic,
      points: new Map(days.filter((d) => daily.has(clinic + "\u0000" + d)).map((d) => { const c = daily.get(clinic + "\u0000" + d); return [d, c.n / c.of]; })),
    })), days);
  }

  function renderRevenue() {
    const tile = document.getElementById("revenue");
    if (!tile) return; // not shown to this role
    const byDay = new Map();
    let currency = null;
    for (const r of rows("revenue")) {
      const d = dayOf(r.day);
      byDay.set(d, (byDay.get(d) || 0) + r.net_minor);
      currency = currency || r.currency;
    }
    const days = [...byDay.keys()].sort().slice(-30);
    setText("revenue-days", String(days.length));
    const money = (minor) => (minor / 100).toLocaleString("en-US", { maximumFractionDigits: 0 });
    columnChart("revenue-chart", "Net revenue per day" + (currency ? ` (${currency})` : ""), days.map((d) => ({ label: d, value: byDay.get(d) })), money);
    const total = [...byDay.values()].reduce((s, v) => s + v, 0);
    setText("revenue-total", (currency ? currency + " " : "") + money(total));
  }

  function setText(id, text) {
    const e = document.getElementById(id);
    if (e) e.textContent = text;
  }

  function render() {
    renderCensus();
    renderAlerts();
    renderEd();
    renderNoShow();
    renderNoShowTrend();
    renderRevenue();
    document.body.dataset.frontier = String(frontier);
    if (asOf) document.body.dataset.asOf = new Date(asOf).toISOString();
    document.body.dataset.applied = String(applied);
  }

  function connect() {
    const status = document.getElementById("status");
    const source = new EventSource("/v1/dashboard/stream");
    source.addEventListener("snapshot", (e) => apply(JSON.parse(e.data), true));
    source.addEventListener("changes", (e) => apply(JSON.parse(e.data), false));
    source.onopen = () => { status.textContent = "Live"; status.className = "live"; };
    source.onerror = () => { status.textContent = "Reconnecting…"; status.className = "stale"; };
  }

  render();
  connect();
  // "Time since the last observation" moves on even when no event comes.
  setInterval(renderAlerts, 30000);
})();
