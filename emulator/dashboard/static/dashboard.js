// The fake Klaviyo's dashboard. Plain JS, no dependencies. Everything a client sent reaches the page through
// textContent (the el() and svg() helpers below): never innerHTML, so a payload is shown, never run. The charts
// are SVG built the same way: geometry and colours are the page's own, every label and tooltip is text.
"use strict";

(() => {
  const API = "/_emulator/dashboard";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const params = new URLSearchParams(location.search);
  const PAGE = Math.min(Math.max(parseInt(params.get("page_size") || "50", 10) || 50, 1), 500);
  const POLL_MS = 1000;
  const TABS = ["profiles", "requests", "problems", "ledger"];
  const RANGES = ["auto", "1m", "5m", "15m", "1h", "6h", "1d", "all"];

  const state = {
    account: params.has("account") ? params.get("account") : undefined, // undefined: choose on first summary
    tab: TABS.includes(params.get("tab")) ? params.get("tab") : "profiles",
    query: params.get("q") || "",
    member: params.get("member") || null,
    range: RANGES.includes(params.get("range")) ? params.get("range") : "auto",
    detail: null,
    summaryKey: null,
    names: {}, // account id -> {key, label, text}: how each account is named on this page
    namesKey: "",
    shown: {}, // what each panel last drew, to leave it alone when nothing changed
  };

  // -- building the page safely ----------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "data") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node[name] = value;
    }
    append(node, children);
    return node;
  }

  // An SVG element: attributes are the chart's own numbers and colours; "text" is set as textContent.
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (name === "text") node.textContent = value;
      else if (name === "data") Object.assign(node.dataset, value);
      else node.setAttribute(name, String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(value) {
    if (value === undefined) return "";
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  function pretty(text) {
    if (text === null || text === undefined || text === "") return "(empty)";
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }

  const pad = (n, w = 2) => String(n).padStart(w, "0");

  function when(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const d = new Date(seconds * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function clock(seconds, withSeconds) {
    const d = new Date(seconds * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}` + (withSeconds ? `:${pad(d.getSeconds())}` : "");
  }

  function day(seconds) {
    return seconds === null || seconds === undefined ? "" : new Date(seconds * 1000).toISOString().replace(".000", "");
  }

  function status(code) {
    const kind = code >= 500 ? "s5" : code === 429 ? "s429" : code >= 400 ? "s4" : "s2";
    return el("span", { class: `status ${kind}`, text: String(code) });
  }

  function replace(id, ...children) {
    const node = document.getElementById(id);
    node.replaceChildren();
    append(node, children);
    return node;
  }

  // A list; one wider than its card scrolls inside its own box, never the page.
  function table(head, rows) {
    return el(
      "div",
      { class: "table-scroll" },
      el("table", { class: "list" }, el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))), el("tbody", {}, rows)),
    );
  }

  // -- talking to the emulator -------------------------------------------------------------------------------

  async function get(path, query) {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== "") search.set(k, v);
    const query_ = search.toString();
    const response = await fetch(`${API}/${path}${query_ ? "?" + query_ : ""}`, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error((body.errors && body.errors[0] && body.errors[0].detail) || response.status);
    return body;
  }

  function remember() {
    const next = new URLSearchParams(location.search);
    const set = (k, v) => (v ? next.set(k, v) : next.delete(k));
    if (state.account !== undefined) next.set("account", state.account || "");
    set("tab", state.tab === "profiles" ? "" : state.tab);
    set("q", state.query);
    set("member", state.member);
    set("range", state.range === "auto" ? "" : state.range);
    history.replaceState(null, "", `${location.pathname}?${next}`);
  }

  // -- naming accounts -----------------------------------------------------------------------------------------

  // Each account by its label and its key's display form (first 3 and last 4 characters at most); two accounts
  // whose display forms are alike (short test keys) are told apart by the start of their account id.
  function nameAccounts(accounts) {
    const seen = {};
    for (const a of accounts) seen[a.shown_key] = (seen[a.shown_key] || 0) + 1;
    const names = {};
    for (const a of accounts) {
      const key = a.shown_key + (seen[a.shown_key] > 1 ? ` #${a.id.slice(0, 6)}` : "");
      names[a.id] = { key, label: a.label, text: a.label ? `${a.label} (${key})` : key };
    }
    return names;
  }

  const account = () => state.account || null;
  const everyAccount = () => !state.account;

  function whose(id) {
    const name = state.names[id];
    return name ? name.text : id ? `account ${id.slice(0, 6)}` : "no account";
  }

  function accountName(id) {
    const name = state.names[id] || { key: whose(id) };
    return el("span", { class: "account-name" }, name.label ? [el("strong", { text: name.label }), " "] : null, el("span", { class: "mono", text: name.key }));
  }

  // -- lists that page, newest first ---------------------------------------------------------------------------

  class Pager {
    constructor(id, load, head, row) {
      Object.assign(this, { id, load, head, row, stack: [], token: 0 });
    }

    reset() {
      this.stack = [];
    }

    async refresh(force) {
      const before = this.stack.length ? this.stack[this.stack.length - 1] : null;
      const token = ++this.token;
      const listing = await this.load({ before, limit: PAGE });
      if (token !== this.token) return listing; // a newer refresh of this list has started: let it draw
      const every = everyAccount();
      const key = JSON.stringify([this.stack, listing, every && state.namesKey]);
      if (!force && state.shown[this.id] === key) return listing;
      state.shown[this.id] = key;
      const first = this.stack.length * PAGE + (listing.data.length ? 1 : 0);
      const last = this.stack.length * PAGE + listing.data.length;
      const nav = el(
        "div",
        { class: "pager" },
        el("span", { class: "range", text: `${first}–${last} of ${listing.total}` }),
        el("button", {
          type: "button", text: "Newest", disabled: !this.stack.length,
          onclick: () => { this.stack = []; this.refresh(true); },
        }),
        el("button", {
          type: "button", text: "← Newer", class: "newer", disabled: !this.stack.length,
          onclick: () => { this.stack.pop(); this.refresh(true); },
        }),
        el("button", {
          type: "button", text: "Older →", class: "older", disabled: listing.older === null,
          onclick: () => { this.stack.push(listing.older); this.refresh(true); },
        }),
        this.stack.length ? el("span", { class: "muted", text: "not live: go to Newest to follow new traffic" }) : null,
      );
      // Every account at once: each row says whose it is.
      const head = every ? [...this.head, "account"] : this.head;
      const rows = listing.data.map((item) => {
        const row = this.row(item);
        if (every) row.append(el("td", { class: "whose" }, accountName(item.account)));
        return row;
      });
      replace(this.id, nav, listing.data.length ? table(head, rows) : el("p", { class: "empty", text: "Nothing yet." }));
      return listing;
    }
  }

  function requestRow(r) {
    const errors = r.errors || [];
    return el(
      "tr",
      { class: "clickable", data: { seq: r.seq }, onclick: () => openRequest(r.seq) },
      el("td", { class: "num", text: `#${r.seq}` }),
      el("td", { class: "when", text: when(r.received) }),
      el("td", { text: r.method }),
      el("td", { class: "path", text: r.path + (r.query ? `?${r.query}` : "") }),
      el("td", { text: r.operation || "" }),
      el("td", {}, status(r.status)),
      el("td", { class: "num", text: `${r.duration_ms.toFixed(1)} ms` }),
      el("td", { text: r.fault ? `fault: ${r.fault}` : "" }),
      el("td", { class: "errors", text: errors.map((e) => e.detail || e.title || e.code).join(" · ") }),
    );
  }

  // The ledger's details, one line per key, wrapped in the cell.
  function details(value) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return el("dl", { class: "details" }, Object.entries(value).map(([k, v]) => [el("dt", { text: k }), el("dd", { text: show(v) })]));
    }
    return el("span", { class: "mono small", text: show(value) });
  }

  const REQUEST_HEAD = ["#", "received", "method", "path", "operation", "status", "time", "fault", "errors"];

  function personName(p) {
    return [p.first_name, p.last_name].filter((x) => x !== null && x !== undefined && x !== "").map(show).join(" ");
  }

  const pagers = {
    profiles: new Pager(
      "profiles",
      (page) => get("profiles", { account: account(), q: state.query, ...page }),
      ["email", "phone", "external id", "Klaviyo id", "name", "events", "updated"],
      (p) =>
        el(
          "tr",
          { class: "clickable" + (p.id === state.member ? " selected" : ""), data: { id: p.id }, onclick: () => openMember(p.id, p.account) },
          el("td", { text: p.email || "" }),
          el("td", { text: p.phone_number || "" }),
          el("td", { class: "mono", text: p.external_id || "" }),
          el("td", { class: "mono", text: p.id }),
          el("td", { class: "name", text: personName(p) }),
          el("td", { class: "num", text: String(p.events) }),
          el("td", { class: "when", text: when(p.updated) }),
        ),
    ),
    requests: new Pager(
      "requests",
      (page) => get("requests", { account: account(), only: document.getElementById("rejected-only").checked ? "rejected" : "", ...page }),
      REQUEST_HEAD,
      requestRow,
    ),
    problems: new Pager("problems", (page) => get("requests", { account: account(), only: "problems", ...page }), REQUEST_HEAD, requestRow),
    ledger: new Pager(
      "ledger",
      (page) => get("ledger", { account: account(), ...page }),
      ["#", "at", "kind", "reason", "subject", "details", "request"],
      (l) =>
        el(
          "tr",
          { class: l.request_seq ? "clickable" : "", data: { seq: l.seq }, onclick: () => l.request_seq && openRequest(l.request_seq) },
          el("td", { class: "num", text: `#${l.seq}` }),
          el("td", { class: "when", text: when(l.at) }),
          el("td", {}, el("span", { class: "badge", text: l.kind })),
          el("td", { text: l.reason }),
          el("td", { class: "mono", text: l.subject || "" }),
          el("td", { class: "details" }, details(l.details)),
          el("td", { class: "num", text: l.request_seq ? `#${l.request_seq}` : "" }),
        ),
    ),
  };

  // -- the side bar: accounts, verdict, limits and faults, metrics -------------------------------------------

  function drawSummary(s) {
    state.names = nameAccounts(s.accounts);
    state.namesKey = JSON.stringify(state.names);

    const select = document.getElementById("account");
    const options = [el("option", { value: "", text: "All accounts" })];
    for (const a of s.accounts) options.push(el("option", { value: a.id, text: `${whose(a.id)} (${a.requests} requests)` }));
    select.replaceChildren(...options);
    select.value = state.account || "";

    replace(
      "accounts",
      el("tr", {}, ["account", "profiles", "events", "requests"].map((h) => el("th", { text: h }))),
      s.accounts.map((a) =>
        el(
          "tr",
          {
            class: "clickable" + (a.id === state.account ? " selected" : ""),
            title: `account ${a.id}, key ${a.masked_key}`,
            data: { account: a.id },
            onclick: () => chooseAccount(a.id),
          },
          el("td", {}, accountName(a.id)),
          el("td", { class: "num", text: String(a.profiles) }),
          el("td", { class: "num", text: String(a.events) }),
          el("td", { class: "num", text: String(a.requests) }),
        ),
      ),
    );

    const v = s.verdict;
    replace(
      "verdict",
      v
        ? [
            el("div", { class: `verdict ${v.ok ? "pass" : "fail"}`, text: v.ok ? "PASS" : `FAIL: ${v.violations} violation${v.violations === 1 ? "" : "s"}` }),
            el("p", { class: "muted", text: `${v.requests} accepted requests judged, up to request #${v.as_of}` }),
            el("ul", { class: "rules" }, Object.entries(v.by_rule).map(([rule, n]) => el("li", {}, el("span", { class: "mono", text: rule }), ` ${n}`))),
          ]
        : el("p", { class: "muted", text: "Pick an account to judge its traffic." }),
    );

    const f = s.faults;
    const rule = (r) =>
      Object.entries({ "5xx": r.server_error, "5xx_after": r.server_error_after, 429: r.throttle, latency_ms: r.latency_ms })
        .filter(([, n]) => n)
        .map(([k, n]) => `${k}=${n}`)
        .join(", ");
    const faultText = [rule(f.default), ...Object.entries(f.per_operation).map(([op, r]) => `${op}: ${rule(r)}`)].filter(Boolean).join("; ");
    const c = s.counts;
    const pairs = [
      ["Rate limits", s.rate_limits.mode === "klaviyo" ? "klaviyo (as published)" : s.rate_limits.mode, "mode"],
      ["Throttled by limits", String(s.rate_limits.throttled)],
      ["Faults", (faultText || "none") + (f.seed !== null ? ` (seed ${f.seed})` : ""), "faults"],
      ["Faults injected", String(f.injected)],
      ["429 answers here", String(c.throttled)],
      ["Injected faults here", String(c.faults)],
      ["Rejected (4xx) here", String(c.rejected)],
    ];
    replace("settings", pairs.map(([k, val, id]) => [el("dt", { text: k }), el("dd", { text: val, id: id ? `setting-${id}` : undefined })]));

    drawMetrics(s.metrics);

    replace("count-profiles", String(c.profiles));
    replace("count-requests", String(c.requests));
    replace("count-problems", String(c.problems));
    replace("count-ledger", String(c.ledger));
  }

  // One account's metrics as a list; every account's grouped under each account's name, so a metric two
  // accounts use shows twice, each under its own account.
  function drawMetrics(metrics) {
    if (!metrics.length) return replace("metrics", el("tr", {}, el("td", { class: "muted", text: "No events yet." })));
    const row = (m) => el("tr", { data: { account: m.account } }, el("td", { class: "metric", text: m.name }), el("td", { class: "num", text: String(m.events) }));
    const head = el("thead", {}, el("tr", {}, el("th", { text: "metric" }), el("th", { text: "events" })));
    if (!everyAccount()) return replace("metrics", head, el("tbody", {}, metrics.map(row)));
    const groups = new Map();
    for (const m of metrics) {
      if (!groups.has(m.account)) groups.set(m.account, []);
      groups.get(m.account).push(m);
    }
    return replace(
      "metrics",
      head,
      [...groups].map(([id, mine]) =>
        el("tbody", { class: "group", data: { account: id } }, el("tr", {}, el("th", { colSpan: 2 }, accountName(id))), mine.map(row)),
      ),
    );
  }

  // -- charts ------------------------------------------------------------------------------------------------------

  // Status classes bottom up: [class in the JSON, legend, colour].
  const STATUS_CLASSES = [
    ["2xx", "2xx", "#3a9a64"],
    ["4xx", "4xx", "#d9982b"],
    ["429", "429", "#8e44ad"],
    ["5xx", "5xx (emulator)", "#7f1d1d"],
    ["fault", "injected fault", "#e4572e"],
  ];
  const PALETTE = ["#2f5bd3", "#e4572e", "#3a9a64", "#d9982b", "#8e44ad", "#17a2b8", "#c2185b", "#6d4c41"];
  const OTHER = "#a4abb9";

  function swatch(colour) {
    return svg("svg", { width: 10, height: 10, "aria-hidden": "true" }, svg("rect", { width: 10, height: 10, rx: 2, fill: colour }));
  }

  function niceMax(n) {
    if (n <= 4) return Math.max(n, 1);
    const step = 10 ** Math.floor(Math.log10(n));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= n) return m * step;
    return n;
  }

  // Stacked bars, one per bucket of time: series [{name, colour, counts}] bottom up.
  function barChart(figure, range, series) {
    const plot = figure.querySelector(".plot");
    const width = Math.max(plot.clientWidth, 200);
    const height = 150;
    const left = 34, right = 6, top = 8, bottom = 18;
    const innerW = width - left - right, innerH = height - top - bottom;
    const totals = Array.from({ length: range.count }, (_, i) => series.reduce((sum, s) => sum + s.counts[i], 0));
    const total = totals.reduce((a, b) => a + b, 0);
    const max = niceMax(Math.max(0, ...totals));
    const step = innerW / range.count;
    const barW = Math.max(step - (step > 4 ? 1 : 0), 0.5);
    const y = (n) => top + innerH - (n / max) * innerH;
    const withSeconds = range.width < 60 || range.count * range.width <= 600;
    const chart = svg("svg", { width, height, role: "img", "aria-label": figure.querySelector("figcaption").textContent, data: { total } });
    for (const n of [0, max / 2, max]) {
      chart.append(svg("line", { class: "grid", x1: left, x2: width - right, y1: y(n), y2: y(n) }));
      chart.append(svg("text", { x: left - 4, y: y(n) + 3, "text-anchor": "end", text: Number.isInteger(n) ? String(n) : n.toFixed(1) }));
    }
    for (let i = 0; i < range.count; i++) {
      if (!totals[i]) continue;
      const from = range.start + i * range.width;
      let base = 0;
      for (const s of series) {
        const n = s.counts[i];
        if (!n) continue;
        const title = `${clock(from, true)}–${clock(from + range.width, true)}: ${n} ${s.name}`;
        chart.append(svg("rect", { x: left + i * step, y: y(base + n), width: barW, height: Math.max(y(base) - y(base + n), 1), fill: s.colour, data: { series: s.name } }, svg("title", { text: title })));
        base += n;
      }
    }
    const ticks = [0, Math.floor(range.count / 2), range.count];
    ticks.forEach((i, k) => {
      const anchor = k === 0 ? "start" : k === ticks.length - 1 ? "end" : "middle";
      chart.append(svg("text", { x: left + i * step, y: height - 4, "text-anchor": anchor, text: clock(range.start + i * range.width, withSeconds) }));
    });
    if (!total) chart.append(svg("text", { class: "empty", x: left + innerW / 2, y: top + innerH / 2, "text-anchor": "middle", text: "nothing in this range" }));
    plot.replaceChildren(chart);
    const legend = figure.querySelector(".legend");
    legend.replaceChildren(
      ...series
        .filter((s) => s.always || s.counts.some((n) => n))
        .map((s) => el("li", { data: { series: s.name } }, swatch(s.colour), el("span", { text: s.name }), el("span", { class: "n", text: String(s.counts.reduce((a, b) => a + b, 0)) }))),
    );
  }

  function requestSeries(requests) {
    return STATUS_CLASSES.map(([name, legend, colour]) => ({ name: legend, colour, counts: requests[name], always: name !== "5xx" }));
  }

  // The busiest metrics each in a colour of their own, the rest as one "other metrics".
  function eventSeries(events, count) {
    const every = everyAccount() && new Set(events.map((e) => e.account)).size > 1;
    const named = events.slice(0, PALETTE.length - (events.length > PALETTE.length ? 1 : 0));
    const short = (id) => (state.names[id] ? state.names[id].label || state.names[id].key : whose(id));
    const series = named.map((e, i) => ({ name: every ? `${e.metric} · ${short(e.account)}` : e.metric, colour: PALETTE[i], counts: e.counts }));
    const rest = events.slice(named.length);
    if (rest.length) {
      const counts = Array.from({ length: count }, (_, i) => rest.reduce((sum, e) => sum + e.counts[i], 0));
      series.push({ name: `${rest.length} other metrics`, colour: OTHER, counts });
    }
    return series;
  }

  function meter(used, limit, title) {
    const share = Math.min(used / limit, 1);
    const colour = share >= 1 ? "#b3261e" : share >= 0.8 ? "#d9982b" : "#3a9a64";
    return el(
      "div",
      { class: "meter", title },
      svg(
        "svg",
        { height: 8, viewBox: "0 0 100 8", preserveAspectRatio: "none", "aria-hidden": "true" },
        svg("rect", { width: 100, height: 8, rx: 2, fill: "#e8ebf2" }),
        used ? svg("rect", { width: Math.max(share * 100, 1.5), height: 8, rx: 2, fill: colour }) : null,
      ),
      el("span", { text: `${used}/${limit}` }),
    );
  }

  // Each endpoint's use of its limits in the current windows: per second (its busiest second of this minute)
  // and per minute. Nearest a limit first.
  function limitsChart(limits) {
    replace("limits-mode", limits.mode === "off" ? "(limits are off: nothing is counted)" : limits.mode === "klaviyo" ? "(Klaviyo's, this minute)" : `(${limits.mode} × Klaviyo's, this minute)`);
    const share = (r) => Math.max(r.burst.peak / r.burst.limit, r.steady.used / r.steady.limit);
    const rows = [...limits.rows].sort((a, b) => share(b) - share(a) || a.operation.localeCompare(b.operation));
    const body = el(
      "table",
      { class: "limits" },
      el("thead", {}, el("tr", {}, el("th", { text: "endpoint" }), el("th", { text: "per second" }), el("th", { text: "per minute" }))),
      el(
        "tbody",
        {},
        rows.map((r) => {
          const s = share(r);
          const who = r.account && everyAccount() ? ` (${whose(r.account)}, the account nearest its limits)` : "";
          return el(
            "tr",
            { class: s >= 1 ? "full" : s >= 0.8 ? "near" : s > 0 ? "used" : "idle", data: { operation: r.operation, steady: r.steady.used, peak: r.burst.peak } },
            el("td", { class: "op", title: `${r.operation}: ${r.method} ${r.path}${who}`, text: r.operation }),
            el("td", {}, meter(r.burst.peak, r.burst.limit, `${r.burst.now} this second, ${r.burst.peak} in the busiest second of this minute; burst limit ${r.burst.limit} a second${who}`)),
            el("td", {}, meter(r.steady.used, r.steady.limit, `${r.steady.used} this minute; steady limit ${r.steady.limit} a minute${who}`)),
          );
        }),
      ),
    );
    document.querySelector("#chart-limits .limits-body").replaceChildren(body);
  }

  async function drawCharts(force) {
    let c;
    try {
      c = await get("charts", { account: account(), range: state.range });
    } catch (error) {
      replace("range-label", `charts: ${error.message}`);
      return;
    }
    const widths = [...document.querySelectorAll("#charts .plot")].map((p) => p.clientWidth);
    const { now, ...range } = c.range;
    const key = JSON.stringify([range, c.requests, c.events, c.limits, state.account, state.namesKey, widths]);
    if (!force && key === state.shown.charts) return;
    state.shown.charts = key;
    const span = range.count * range.width;
    const bar = range.width < 60 ? `${range.width}-second` : range.width < 3600 ? `${range.width / 60}-minute` : `${range.width / 3600}-hour`;
    replace("range-label", `${range.label}, ${bar} bars, by arrival` + (range.asked === "auto" ? " (auto)" : "") + (span > 86400 ? `, since ${day(range.start)}` : ""));
    barChart(document.getElementById("chart-requests"), range, requestSeries(c.requests));
    barChart(document.getElementById("chart-events"), range, eventSeries(c.events, range.count));
    limitsChart(c.limits);
  }

  // -- drawers: a member, a request ------------------------------------------------------------------------------

  function openDrawer(node) {
    if (!node.hidden) return; // already open: a redraw leaves its scroll and the focus where they are
    node.hidden = false;
    node.scrollTop = 0;
    node.focus({ preventScroll: true });
  }

  function closeDetail() {
    state.detail = null;
    document.getElementById("detail").hidden = true;
  }

  function drawerHead(title, onClose) {
    return el("div", { class: "member-head" }, el("h2", {}, title), el("button", { type: "button", class: "close", text: "Close", onclick: onClose }));
  }

  // -- a member: timeline, diffs, verdict ---------------------------------------------------------------------

  function diffTable(diff) {
    if (!diff.length) return el("p", { class: "muted small", text: "No attribute changed." });
    return el(
      "table",
      { class: "diff" },
      el("tr", {}, el("th", { text: "attribute" }), el("th", { text: "before" }), el("th", { text: "" }), el("th", { text: "after" })),
      diff.map((d) =>
        el(
          "tr",
          { class: d.change },
          el("td", { class: "mono", text: d.attribute }),
          el("td", { class: "before", text: "before" in d ? show(d.before) : "—" }),
          el("td", { class: "arrow", text: "→" }),
          el("td", { class: "after", text: "after" in d ? show(d.after) : "(removed)" }),
        ),
      ),
    );
  }

  function violationList(list) {
    return el(
      "ul",
      { class: "violations" },
      list.map((v) =>
        el(
          "li",
          { class: "violation" },
          el("span", { class: "rule", text: v.rule }),
          ` ${v.message}`,
          v.request ? el("span", { class: "muted", text: ` (request #${v.request}${v.pointer ? ` at ${v.pointer}` : ""})` }) : null,
        ),
      ),
    );
  }

  // An event's own time, as the client sent it (a bulk job's events each carry theirs).
  function eventTime(time) {
    if (time === null || time === undefined) return el("span", { class: "event-time unsent", text: "no time sent: Klaviyo stamps it on arrival" });
    const text = typeof time === "number" ? day(time) : show(time);
    return el("span", { class: "event-time", title: "the event's time, as sent", text: `event time ${text}` });
  }

  function timelineItem(item) {
    const head = [el("span", { class: "num", text: item.seq ? `#${item.seq}` : "" })];
    const received = el("span", { class: "muted received", title: "when the request arrived", text: item.received ? `received ${when(item.received)}` : "" });
    const body = [];
    let title;
    if (item.kind === "event") {
      title = [el("span", { class: "badge event", text: "event" }), el("strong", { text: show(item.metric) }), eventTime(item.time), received];
      body.push(
        el("p", {
          class: "small " + (item.stored ? "ok" : "warn"),
          text: item.stored
            ? `stored as event ${item.stored}` + (item.unique_id !== null && item.unique_id !== undefined ? ` · unique_id ${show(item.unique_id)}` : "")
            : item.deduplicated
              ? `deduplicated: ${item.deduplicated}`
              : "not stored on this profile",
        }),
        el("details", {}, el("summary", { text: `properties (${Object.keys(item.properties || {}).length})` }), el("pre", { text: JSON.stringify(item.properties, null, 2) })),
      );
    } else if (item.kind === "change" || item.kind === "subscription") {
      const label = item.kind === "subscription" ? `subscription: ${item.consent}` : item.with_event ? "profile change (sent with the event)" : "profile change";
      title = [el("span", { class: "badge change", text: "profile" }), el("strong", { text: label }), received];
      body.push(diffTable(item.diff));
    } else if (item.kind === "rejected") {
      title = [el("span", { class: "badge rejected", text: "refused" }), status(item.status), el("strong", { text: `${item.method} ${item.path}` }), item.fault ? el("span", { class: "warn", text: ` fault ${item.fault}` }) : null, received];
      body.push(el("ul", { class: "errors" }, (item.errors || []).map((e) => el("li", { text: `${e.code || e.status}: ${e.detail || e.title || ""}` + (e.source && e.source.pointer ? ` (at ${e.source.pointer})` : "") }))));
    } else {
      title = [el("span", { class: "badge note", text: item.note }), el("span", { text: item.reason }), received];
    }
    if (item.violations) body.push(violationList(item.violations));
    return el(
      "li",
      { class: `item ${item.kind}${item.violations ? " has-violation" : ""}`, data: { kind: item.kind, seq: item.seq || "" } },
      el("div", { class: "item-head" }, head, title, item.seq ? el("button", { type: "button", class: "link", text: "request", onclick: () => openRequest(item.seq) }) : null),
      body,
    );
  }

  async function drawMember(force) {
    const node = document.getElementById("member");
    if (!state.member) {
      node.hidden = true;
      return;
    }
    let m;
    try {
      m = await get("member", { account: state.memberAccount || account(), id: state.member });
    } catch (error) {
      replace("member", drawerHead("Member", () => openMember(null)), el("p", { class: "warn", text: `Profile ${state.member}: ${error.message}` }));
      openDrawer(node);
      return;
    }
    const key = JSON.stringify([m, state.namesKey]);
    if (!force && state.shown.member === key) return;
    state.shown.member = key;
    const p = m.profile;
    const name = personName(m.name);
    const v = m.verdict;
    replace(
      "member",
      drawerHead(["Member ", el("span", { class: "member-name", text: name || p.email || p.id })], () => openMember(null)),
      el(
        "dl",
        { class: "identifiers" },
        [["name", name], ["Klaviyo id", p.id], ["external id", p.external_id], ["email", p.email], ["phone", p.phone_number], ["account", whose(p.account)], ["created", day(p.created)], ["updated", day(p.updated)]]
          .filter(([, val]) => val)
          .map(([k, val]) => [el("dt", { text: k }), el("dd", { class: "mono", text: val })]),
      ),
      el(
        "div",
        { class: `verdict member-verdict ${v.ok ? "pass" : "fail"}` },
        v.ok ? "Contract: PASS, no violations for this member" : `Contract: FAIL, ${v.violations.length} violation${v.violations.length === 1 ? "" : "s"} for this member`,
      ),
      el("span", { class: "muted small", text: ` judged up to request #${v.as_of}` }),
      v.violations.length ? violationList(v.violations) : null,
      el(
        "div",
        { class: "member-body" },
        el(
          "section",
          {},
          el("h3", { text: `Timeline (${m.timeline.length})` }),
          el("p", { class: "muted small", text: "Rebuilt from the request log, oldest first: each profile change as before → after; each event with its own time and when it arrived." }),
          el("ol", { class: "timeline" }, m.timeline.map(timelineItem)),
        ),
        el(
          "section",
          {},
          el("h3", { text: "Profile now" }),
          el("table", { class: "attributes" }, m.attributes.map((a) => el("tr", {}, el("td", { class: "mono", text: a.attribute }), el("td", { text: show(a.value) })))),
        ),
      ),
    );
    openDrawer(node);
  }

  function openMember(id, inAccount) {
    state.member = id;
    state.memberAccount = inAccount || null;
    state.shown.member = null;
    if (!id) closeDetail();
    else document.getElementById("member").hidden = true; // a new member opens at its top
    remember();
    drawMember(true);
    pagers.profiles.refresh(true);
  }

  // -- one request ---------------------------------------------------------------------------------------------

  async function openRequest(seq) {
    state.detail = seq;
    const r = await get(`requests/${seq}`);
    const node = document.getElementById("detail");
    node.hidden = true; // a new request opens at its top
    replace(
      "detail",
      drawerHead([`Request #${r.seq} `, status(r.status), el("span", { class: "mono", text: ` ${r.method} ${r.path}${r.query ? "?" + r.query : ""}` })], closeDetail),
      el(
        "dl",
        { class: "identifiers" },
        [["operation", r.operation], ["account", r.account ? whose(r.account) : null], ["key", r.masked_key], ["received", day(r.received)], ["time", `${r.duration_ms} ms`], ["fault", r.fault], ["request id", r.id]]
          .filter(([, val]) => val)
          .map(([k, val]) => [el("dt", { text: k }), el("dd", { class: "mono", text: String(val) })]),
      ),
      r.errors.length
        ? [
            el("h3", { text: "JSON:API errors" }),
            table(
              ["status", "code", "title", "detail", "pointer / parameter"],
              r.errors.map((e) =>
                el("tr", {}, [e.status, e.code, e.title, e.detail, e.source ? e.source.pointer || e.source.parameter : ""].map((x) => el("td", { text: show(x) }))),
              ),
            ),
          ]
        : null,
      r.ledger.length ? [el("h3", { text: "Ledger" }), el("ul", {}, r.ledger.map((l) => el("li", {}, el("span", { class: "badge", text: l.kind }), ` ${l.reason}`)))] : null,
      el(
        "div",
        { class: "bodies" },
        el("section", {}, el("h3", { text: "Request body" }), el("pre", { class: "body", text: pretty(r.request_body) })),
        el("section", {}, el("h3", { text: "Response body" }), el("pre", { class: "body", text: pretty(r.response_body) })),
      ),
    );
    openDrawer(node);
  }

  // -- tabs, account, live polling -----------------------------------------------------------------------------

  function chooseTab(tab) {
    state.tab = tab;
    for (const t of TABS) document.getElementById(`tab-${t}`).hidden = t !== tab;
    for (const b of document.querySelectorAll(".tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    remember();
    pagers[tab].refresh(true);
  }

  function chooseAccount(id) {
    state.account = id || "";
    for (const pager of Object.values(pagers)) pager.reset();
    state.summaryKey = null;
    remember();
    tick();
  }

  async function tick() {
    const live = document.getElementById("live");
    try {
      const s = await get("summary", { account: account() });
      if (state.account === undefined) {
        state.account = s.accounts.length === 1 ? s.accounts[0].id : "";
        if (state.account) return tick();
      }
      const key = JSON.stringify([state.account, s.counts, s.rate_limits, s.faults, s.accounts, s.metrics, s.verdict]);
      if (key !== state.summaryKey) {
        state.summaryKey = key;
        drawSummary(s);
        await pagers[state.tab].refresh(false);
        if (state.member) await drawMember(false);
      }
      await drawCharts(false); // time moves on even when nothing arrives: the charts are read every time
      live.textContent = `● live · ${when(Date.now() / 1000).slice(0, 8)}`;
      live.className = "live on";
    } catch (error) {
      live.textContent = `○ not connected (${error.message})`;
      live.className = "live off";
    }
  }

  async function loop() {
    if (!document.hidden) await tick();
    setTimeout(loop, POLL_MS);
  }

  function start() {
    for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => chooseTab(b.dataset.tab));
    document.getElementById("account").addEventListener("change", (e) => chooseAccount(e.target.value));
    document.getElementById("rejected-only").addEventListener("change", () => {
      pagers.requests.reset();
      pagers.requests.refresh(true);
    });
    const range = document.getElementById("range");
    range.value = state.range;
    range.addEventListener("change", () => {
      state.range = range.value;
      remember();
      drawCharts(true);
    });
    const search = document.getElementById("search");
    search.value = state.query;
    let typing;
    search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        state.query = search.value.trim();
        pagers.profiles.reset();
        remember();
        pagers.profiles.refresh(true);
      }, 200);
    });
    document.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      if (!document.getElementById("detail").hidden) closeDetail();
      else if (state.member) openMember(null);
    });
    let resizing;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => drawCharts(true), 150);
    });
    chooseTab(state.tab);
    if (state.member) drawMember(true);
    loop();
  }

  start();
})();
