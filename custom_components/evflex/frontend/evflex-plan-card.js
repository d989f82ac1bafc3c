/*
 * EVFlex plan card: tonight's charging plan at a glance.
 *
 *   type: custom:evflex-plan-card
 *   entity: sensor.garage_plan_status   # EVFlex's plan status sensor (default: the first)
 *   title: Tonight                      # optional
 *   hours: 24                           # optional, 6 to 48: how far ahead to draw
 *   show: [price, pv, house, ev, soc]   # optional: the series to draw
 *
 * Plain JavaScript, no build step; served and registered by the integration.
 * Draws from the plan status sensor's attributes: slots (start, end, ev_kw, pv_kw,
 * house_kw, import_price, soc_pct), departure, target_soc, departure_source, signals.
 */

const STRINGS = {
  en: {
    title: "Charging plan",
    now: "now",
    departure: "Departure",
    target: "target",
    price: "Import price",
    pv: "PV forecast",
    house: "House",
    ev: "Planned charging",
    soc: "State of charge",
    event: "Grid event",
    noplan: "No plan: the car is not plugged in.",
    missing: "Entity not found",
    charging: "Charging {from}–{to}, {kwh} kWh",
    nocharge: "No charging planned",
    ready: "{soc}% by {time}",
    short: "only {soc}% of {target}% by {time}",
    sources: { override: "one-off", calendar: "calendar", schedule: "schedule", daily: "daily time" },
  },
  "zh-Hans": {
    title: "充电计划",
    now: "现在",
    departure: "出发",
    target: "目标",
    price: "电价",
    pv: "光伏预测",
    house: "家庭用电",
    ev: "计划充电",
    soc: "电量",
    event: "电网事件",
    noplan: "没有计划：车辆未连接。",
    missing: "找不到实体",
    charging: "充电 {from}–{to}，{kwh} kWh",
    nocharge: "无充电计划",
    ready: "{time} 前达到 {soc}%",
    short: "{time} 前仅达到 {soc}%（目标 {target}%）",
    sources: { override: "单次", calendar: "日历", schedule: "每周计划", daily: "每日时间" },
  },
};
const SERIES = ["price", "pv", "house", "ev", "soc"];

function strings(hass) {
  const lang = (hass && (hass.locale?.language || hass.language)) || "en";
  if (lang.startsWith("zh")) return STRINGS["zh-Hans"];
  return STRINGS.en;
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
}

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

class EvflexPlanCard extends HTMLElement {
  static getStubConfig(hass) {
    const entity = Object.keys(hass.states).find(
      (id) => id.startsWith("sensor.") && id.endsWith("_plan_status") && hass.states[id].attributes.slots
    );
    return { entity: entity || "sensor.evflex_plan_status", hours: 24 };
  }

  static getConfigForm() {
    return {
      schema: [
        { name: "entity", required: true, selector: { entity: { domain: "sensor", integration: "evflex" } } },
        { name: "title", selector: { text: {} } },
        { name: "hours", selector: { number: { min: 6, max: 48, step: 1, mode: "box" } } },
        {
          name: "show",
          selector: { select: { multiple: true, options: SERIES.map((s) => ({ value: s, label: s })) } },
        },
      ],
    };
  }

  setConfig(config) {
    if (!config || typeof config !== "object") throw new Error("evflex-plan-card: no configuration");
    const hours = config.hours === undefined ? 24 : Number(config.hours);
    if (!Number.isFinite(hours) || hours < 6 || hours > 48) {
      throw new Error("evflex-plan-card: hours must be a number from 6 to 48");
    }
    if (config.entity !== undefined && (typeof config.entity !== "string" || !config.entity.startsWith("sensor."))) {
      throw new Error("evflex-plan-card: entity must be a sensor (EVFlex's plan status)");
    }
    const show = config.show === undefined ? SERIES : config.show;
    if (!Array.isArray(show) || show.some((s) => !SERIES.includes(s))) {
      throw new Error(`evflex-plan-card: show must be a list of ${SERIES.join(", ")}`);
    }
    this._config = { ...config, hours, show };
    if (!this.shadowRoot) {
      this.attachShadow({ mode: "open" });
      this.shadowRoot.innerHTML = `
        <style>
          :host { display: block; }
          ha-card { padding: 12px 12px 8px; overflow: hidden; }
          .head { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; flex-wrap: wrap; }
          .title { font-size: 1.15em; font-weight: 500; color: var(--primary-text-color); }
          .summary { color: var(--secondary-text-color); font-size: 0.95em; }
          .chart { width: 100%; margin-top: 6px; }
          svg { display: block; width: 100%; font-family: var(--paper-font-body1_-_font-family, inherit); }
          svg text { fill: var(--secondary-text-color); font-size: 11px; }
          .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 4px; font-size: 0.85em; color: var(--secondary-text-color); }
          .legend span::before { content: ""; display: inline-block; width: 12px; height: 10px; margin-right: 5px; border-radius: 2px; background: var(--c); vertical-align: -1px; }
          .empty { color: var(--secondary-text-color); padding: 16px 0; }
        </style>
        <ha-card><div class="head"><div class="title"></div><div class="summary"></div></div>
        <div class="chart"></div><div class="legend"></div></ha-card>`;
      this._resize = new ResizeObserver(() => this._render());
      this._resize.observe(this);
    }
    this._render();
  }

  set hass(hass) {
    const entity = this._entity(hass);
    const state = entity && hass.states[entity];
    const stamp = state ? state.last_updated + (state.attributes.planned_at || "") : "none";
    this._hass = hass;
    if (stamp === this._stamp && this._lang === hass.language) return;
    this._stamp = stamp;
    this._lang = hass.language;
    this._render();
  }

  getCardSize() {
    return 5;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6 };  // rows: as tall as the chart needs
  }

  _entity(hass) {
    if (this._config && this._config.entity) return this._config.entity;
    return hass ? EvflexPlanCard.getStubConfig(hass).entity : undefined;
  }

  _render() {
    if (!this.shadowRoot || !this._hass || !this._config) return;
    const hass = this._hass;
    const t = strings(hass);
    const root = this.shadowRoot;
    const chart = root.querySelector(".chart");
    const legend = root.querySelector(".legend");
    root.querySelector(".title").textContent = this._config.title || t.title;
    const summary = root.querySelector(".summary");
    const entity = this._entity(hass);
    const state = hass.states[entity];
    chart.replaceChildren();
    legend.replaceChildren();
    summary.textContent = "";
    if (!state) {
      chart.innerHTML = `<div class="empty">${t.missing}: ${entity}</div>`;
      return;
    }
    const a = state.attributes;
    const now = Date.now();
    const horizon = now + this._config.hours * 3600e3;
    const slots = (a.slots || [])
      .map((s) => ({ ...s, t0: Date.parse(s.start), t1: Date.parse(s.end || s.start) || Date.parse(s.start) + 900e3 }))
      .filter((s) => s.t1 > now - 900e3 && s.t0 < horizon);
    if (!slots.length) {
      chart.innerHTML = `<div class="empty">${t.noplan}</div>`;
      return;
    }
    const zone = hass.config?.time_zone;
    const hhmm = new Intl.DateTimeFormat(hass.language || "en", {
      hour: "2-digit", minute: "2-digit", hour12: false, ...(zone ? { timeZone: zone } : {}),
    });
    const hourOf = new Intl.DateTimeFormat("en-GB", { hour: "numeric", hour12: false, ...(zone ? { timeZone: zone } : {}) });
    const fmt = (ms) => hhmm.format(new Date(ms));

    // The summary line: when it charges, how much, how full by when.
    const charging = slots.filter((s) => s.ev_kw > 0.001);
    const kwh = charging.reduce((sum, s) => sum + s.ev_kw * (s.t1 - s.t0) / 3600e3, 0);
    const parts = [];
    parts.push(charging.length
      ? fill(t.charging, { from: fmt(charging[0].t0), to: fmt(charging[charging.length - 1].t1), kwh: kwh.toFixed(1) })
      : t.nocharge);
    const departure = a.departure ? Date.parse(a.departure) : null;
    if (departure && a.target_soc !== null && a.target_soc !== undefined) {
      const source = t.sources[a.departure_source] || a.departure_source || "";
      // What the plan reaches by the departure: the last slot that ends by then. A plan
      // short of its target says so rather than promising the target.
      const by = (a.slots || []).filter((s) => Date.parse(s.end || s.start) <= departure && typeof s.soc_pct === "number");
      const reached = by.length ? by[by.length - 1].soc_pct : null;
      const line = reached !== null && reached < a.target_soc - 0.5
        ? fill(t.short, { soc: Math.round(reached), target: Math.round(a.target_soc), time: fmt(departure) })
        : fill(t.ready, { soc: Math.round(a.target_soc), time: fmt(departure) });
      parts.push(line + (source ? ` (${source})` : ""));
    }
    summary.textContent = parts.join(" · ");

    // Geometry: the width the card has, in pixels (text stays readable on a phone).
    const width = Math.max(280, Math.round(this.getBoundingClientRect().width || 600) - 24);
    const narrow = width < 480;
    const left = 34, right = 44, top = 18, mainH = narrow ? 150 : 180, gap = 14, socH = 56, bottom = 20;
    const height = top + mainH + gap + socH + bottom;
    const x0 = left, x1 = width - right;
    const tStart = Math.min(slots[0].t0, now);
    const tEnd = Math.max(slots[slots.length - 1].t1, departure && departure < horizon ? departure : 0);
    const X = (ms) => x0 + ((ms - tStart) / (tEnd - tStart)) * (x1 - x0);
    const show = new Set(this._config.show);
    const kwMax = Math.max(1, ...slots.map((s) => Math.max(show.has("ev") ? s.ev_kw || 0 : 0, show.has("pv") ? s.pv_kw || 0 : 0, show.has("house") ? s.house_kw || 0 : 0)));
    const kwTop = Math.ceil(kwMax / 2) * 2;
    const Y = (kw) => top + mainH - (kw / kwTop) * mainH;
    const prices = slots.map((s) => s.import_price).filter((p) => typeof p === "number");
    const pMin = prices.length ? Math.min(...prices) : 0, pMax = prices.length ? Math.max(...prices) : 1;
    const pLo = Math.min(0, pMin), pHi = pMax > pLo ? pMax * 1.1 : pLo + 1;
    const P = (p) => top + mainH - ((p - pLo) / (pHi - pLo)) * mainH;
    const socTop = top + mainH + gap;
    const S = (soc) => socTop + socH - (soc / 100) * socH;

    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, height, role: "img", "aria-label": t.title });
    const css = getComputedStyle(this);
    const color = (name, fallback) => (css.getPropertyValue(name) || "").trim() || fallback;
    const C = {
      ev: color("--evflex-ev-color", color("--primary-color", "#03a9f4")),
      pv: color("--evflex-pv-color", "#f5b800"),
      house: color("--evflex-house-color", color("--secondary-text-color", "#888")),
      price: color("--evflex-price-color", "#e4572e"),
      soc: color("--evflex-soc-color", "#2e9d5b"),
      grid: color("--divider-color", "rgba(127,127,127,0.25)"),
      text: color("--primary-text-color", "#222"),
      event: color("--evflex-event-color", "#9c27b0"),
    };

    // Cheap and dear hours: a tint behind the plot from the price (green low, red high).
    if (show.has("price") && pMax > pMin) {
      for (const s of slots) {
        const rel = (s.import_price - pMin) / (pMax - pMin);
        svg.append(el("rect", {
          class: rel < 0.34 ? "band cheap" : rel > 0.66 ? "band dear" : "band",
          x: X(s.t0), y: top, width: Math.max(0, X(s.t1) - X(s.t0)), height: mainH,
          fill: rel < 0.34 ? C.soc : rel > 0.66 ? C.price : "transparent", "fill-opacity": 0.08,
        }));
      }
    }
    // Grid lines and the kW axis.
    for (let kw = 0; kw <= kwTop; kw += kwTop > 8 ? 4 : 2) {
      svg.append(el("line", { x1: x0, x2: x1, y1: Y(kw), y2: Y(kw), stroke: C.grid }));
      svg.append(el("text", { x: x0 - 4, y: Y(kw) + 4, "text-anchor": "end" }, String(kw)));
    }
    svg.append(el("text", { x: x0 - 4, y: top - 6, "text-anchor": "end" }, "kW"));
    // The time axis: every 2, 3 or 6 hours on the local clock.
    const span = (tEnd - tStart) / 3600e3;
    const every = narrow ? (span > 16 ? 6 : 3) : span > 30 ? 6 : span > 12 ? 3 : 2;
    for (let ms = Math.ceil(tStart / 3600e3) * 3600e3; ms <= tEnd; ms += 3600e3) {
      if (Number(hourOf.format(new Date(ms))) % every !== 0) continue;
      svg.append(el("line", { x1: X(ms), x2: X(ms), y1: top, y2: socTop + socH, stroke: C.grid }));
      svg.append(el("text", { x: X(ms), y: height - 5, "text-anchor": "middle" }, fmt(ms)));
    }
    // Grid events (signals): a tinted window with its type.
    for (const sig of a.signals || []) {
      const s0 = Math.max(Date.parse(sig.start), tStart), s1 = Math.min(Date.parse(sig.end), tEnd);
      if (!(s1 > s0)) continue;
      svg.append(el("rect", { class: "signal", x: X(s0), y: top, width: X(s1) - X(s0), height: mainH, fill: C.event, "fill-opacity": 0.14 }));
      const label = `${t.event}${sig.limit_kw !== undefined && sig.limit_kw !== null ? ` ≤ ${sig.limit_kw} kW` : ""}`;
      svg.append(el("text", { x: X(s0) + 3, y: top + 12, fill: C.event, style: `fill:${C.event}` }, label));
    }
    // PV: an area. House: a step line. EV: bars.
    const step = (key, scale) => slots.map((s, i) => `${i ? "L" : "M"}${X(s.t0).toFixed(1)},${scale(s[key] || 0).toFixed(1)}L${X(s.t1).toFixed(1)},${scale(s[key] || 0).toFixed(1)}`).join("");
    if (show.has("pv") && slots.some((s) => s.pv_kw > 0)) {
      svg.append(el("path", { class: "pv", d: `${step("pv_kw", Y)}L${X(slots[slots.length - 1].t1)},${Y(0)}L${X(slots[0].t0)},${Y(0)}Z`, fill: C.pv, "fill-opacity": 0.35, stroke: C.pv, "stroke-width": 1.5 }));
    }
    if (show.has("ev")) {
      for (const s of charging) {
        const rect = el("rect", { class: "ev", x: X(s.t0) + 0.5, y: Y(s.ev_kw), width: Math.max(1, X(s.t1) - X(s.t0) - 1), height: Y(0) - Y(s.ev_kw), fill: C.ev, rx: 1 });
        rect.dataset.start = s.start;
        rect.dataset.kw = s.ev_kw;
        rect.dataset.price = s.import_price;
        svg.append(rect);
      }
    }
    if (show.has("house") && slots.some((s) => s.house_kw > 0)) {
      svg.append(el("path", { class: "house", d: step("house_kw", Y), fill: "none", stroke: C.house, "stroke-width": 1.5, "stroke-dasharray": "4 3" }));
    }
    if (show.has("price") && prices.length) {
      svg.append(el("path", { class: "price", d: step("import_price", P), fill: "none", stroke: C.price, "stroke-width": 2 }));
      const ticks = pMax > pMin ? [pMin, pMax] : [pMax];
      for (const p of ticks) svg.append(el("text", { x: x1 + 4, y: P(p) + 4, fill: C.price, style: `fill:${C.price}` }, p.toFixed(2)));
      svg.append(el("text", { x: width - 2, y: top - 6, "text-anchor": "end", style: `fill:${C.price}` }, `${a.currency || ""}/kWh`));
    }
    // State of charge below, with the target.
    if (show.has("soc")) {
      svg.append(el("rect", { x: x0, y: socTop, width: x1 - x0, height: socH, fill: "none", stroke: C.grid }));
      for (const v of [0, 50, 100]) svg.append(el("text", { x: x0 - 4, y: S(v) + 4, "text-anchor": "end" }, `${v}%`));
      const first = slots[0];
      const startSoc = typeof a.soc_now === "number" ? a.soc_now : first.soc_pct;
      const d = [`M${X(first.t0).toFixed(1)},${S(startSoc).toFixed(1)}`].concat(slots.map((s) => `L${X(s.t1).toFixed(1)},${S(s.soc_pct).toFixed(1)}`)).join("");
      svg.append(el("path", { class: "soc", d, fill: "none", stroke: C.soc, "stroke-width": 2 }));
      if (typeof a.target_soc === "number") {
        svg.append(el("line", { class: "target", x1: x0, x2: x1, y1: S(a.target_soc), y2: S(a.target_soc), stroke: C.soc, "stroke-dasharray": "3 3" }));
        svg.append(el("text", { x: x1 + 4, y: S(a.target_soc) + 4, style: `fill:${C.soc}` }, `${Math.round(a.target_soc)}%`));
      }
    }
    // Now, and the departure.
    if (now >= tStart && now <= tEnd) {
      svg.append(el("line", { class: "now", x1: X(now), x2: X(now), y1: top - 4, y2: socTop + socH, stroke: C.text, "stroke-width": 1.5 }));
      svg.append(el("text", { x: X(now) + 3, y: top - 6, style: `fill:${C.text}` }, t.now));
    }
    if (departure && departure >= tStart && departure <= tEnd) {
      const line = el("line", { class: "departure", x1: X(departure), x2: X(departure), y1: top - 4, y2: socTop + socH, stroke: C.soc, "stroke-width": 2, "stroke-dasharray": "6 3" });
      line.dataset.at = a.departure;
      svg.append(line);
      const label = `${t.departure} ${fmt(departure)}`;
      const anchor = X(departure) > width - 90 ? "end" : "start";
      svg.append(el("text", { x: X(departure) + (anchor === "end" ? -4 : 4), y: top + 26, "text-anchor": anchor, style: `fill:${C.soc};font-weight:600` }, label));
    }
    chart.append(svg);
    for (const key of this._config.show) {
      const span = document.createElement("span");
      span.style.setProperty("--c", C[key]);
      span.textContent = t[key];
      legend.append(span);
    }
  }

  disconnectedCallback() {
    if (this._resize) this._resize.disconnect();
    this._resize = undefined;
  }

  connectedCallback() {
    if (this.shadowRoot && !this._resize) {
      this._resize = new ResizeObserver(() => this._render());
      this._resize.observe(this);
    }
  }
}

if (!customElements.get("evflex-plan-card")) {
  customElements.define("evflex-plan-card", EvflexPlanCard);
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: "evflex-plan-card",
    name: "EVFlex plan",
    description: "Tonight's charging plan: prices, PV, house load, planned charging, SoC and departure.",
    preview: true,
  });
}
