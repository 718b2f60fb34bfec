// The fake Klaviyo's dashboard. Plain JS, no dependencies. Everything a client sent reaches the page through
// textContent (the el() helper below): never innerHTML, so a payload is shown, never run.
"use strict";

(() => {
  const API = "/_emulator/dashboard";
  const params = new URLSearchParams(location.search);
  const PAGE = Math.min(Math.max(parseInt(params.get("page_size") || "50", 10) || 50, 1), 500);
  const POLL_MS = 1000;
  const TABS = ["profiles", "requests", "problems", "ledger"];

  const state = {
    account: params.has("account") ? params.get("account") : undefined, // undefined: choose on first summary
    tab: TABS.includes(params.get("tab")) ? params.get("tab") : "profiles",
    query: params.get("q") || "",
    member: params.get("member") || null,
    detail: null,
    summaryKey: null,
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

  function when(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const d = new Date(seconds * 1000);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
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

  function table(head, rows) {
    return el(
      "table",
      { class: "list" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows),
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
    history.replaceState(null, "", `${location.pathname}?${next}`);
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
      const key = JSON.stringify([this.stack, listing]);
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
      const rows = listing.data.map((item) => this.row(item));
      replace(this.id, nav, listing.data.length ? table(this.head, rows) : el("p", { class: "empty", text: "Nothing yet." }));
      return listing;
    }
  }

  const account = () => state.account || null;

  function requestRow(r) {
    const errors = r.errors || [];
    return el(
      "tr",
      { class: "clickable", data: { seq: r.seq }, onclick: () => openRequest(r.seq) },
      el("td", { class: "num", text: `#${r.seq}` }),
      el("td", { text: when(r.received) }),
      el("td", { text: r.method }),
      el("td", { class: "path", text: r.path + (r.query ? `?${r.query}` : "") }),
      el("td", { text: r.operation || "" }),
      el("td", {}, status(r.status)),
      el("td", { class: "num", text: `${r.duration_ms.toFixed(1)} ms` }),
      el("td", { text: r.fault ? `fault: ${r.fault}` : "" }),
      el("td", { class: "errors", text: errors.map((e) => e.detail || e.title || e.code).join(" · ") }),
    );
  }

  const REQUEST_HEAD = ["#", "received", "method", "path", "operation", "status", "time", "fault", "errors"];

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
          el("td", { text: [p.first_name, p.last_name].filter((x) => x !== null && x !== undefined).map(show).join(" ") }),
          el("td", { class: "num", text: String(p.events) }),
          el("td", { text: when(p.updated) }),
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
          { class: l.request_seq ? "clickable" : "", onclick: () => l.request_seq && openRequest(l.request_seq) },
          el("td", { class: "num", text: `#${l.seq}` }),
          el("td", { text: when(l.at) }),
          el("td", {}, el("span", { class: "badge", text: l.kind })),
          el("td", { text: l.reason }),
          el("td", { class: "mono", text: l.subject || "" }),
          el("td", { class: "mono small", text: show(l.details) }),
          el("td", { class: "num", text: l.request_seq ? `#${l.request_seq}` : "" }),
        ),
    ),
  };

  // -- the side bar: accounts, verdict, limits and faults, metrics -------------------------------------------

  function drawSummary(s) {
    const select = document.getElementById("account");
    const options = [el("option", { value: "", text: "All accounts" })];
    for (const a of s.accounts) options.push(el("option", { value: a.id, text: `${a.masked_key} (${a.requests} requests)` }));
    select.replaceChildren(...options);
    select.value = state.account || "";

    replace(
      "accounts",
      el("tr", {}, ["key", "profiles", "events", "requests"].map((h) => el("th", { text: h }))),
      s.accounts.map((a) =>
        el(
          "tr",
          { class: "clickable" + (a.id === state.account ? " selected" : ""), title: `account ${a.id}`, onclick: () => chooseAccount(a.id) },
          el("td", { class: "mono", text: a.masked_key }),
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

    replace(
      "metrics",
      s.metrics.length
        ? [el("tr", {}, el("th", { text: "metric" }), el("th", { text: "events" })), s.metrics.map((m) => el("tr", {}, el("td", { text: m.name }), el("td", { class: "num", text: String(m.events) })))]
        : el("tr", {}, el("td", { class: "muted", text: "No events yet." })),
    );

    replace("count-profiles", String(c.profiles));
    replace("count-requests", String(c.requests));
    replace("count-problems", String(c.problems));
    replace("count-ledger", String(c.ledger));
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

  function timelineItem(item) {
    const head = [el("span", { class: "num", text: item.seq ? `#${item.seq}` : "" }), el("span", { class: "muted", text: when(item.received) })];
    const body = [];
    let title;
    if (item.kind === "event") {
      title = [el("span", { class: "badge event", text: "event" }), el("strong", { text: show(item.metric) })];
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
      title = [el("span", { class: "badge change", text: "profile" }), el("strong", { text: label })];
      body.push(diffTable(item.diff));
    } else if (item.kind === "rejected") {
      title = [el("span", { class: "badge rejected", text: "refused" }), status(item.status), el("strong", { text: `${item.method} ${item.path}` }), item.fault ? el("span", { class: "warn", text: ` fault ${item.fault}` }) : null];
      body.push(el("ul", { class: "errors" }, (item.errors || []).map((e) => el("li", { text: `${e.code || e.status}: ${e.detail || e.title || ""}` + (e.source && e.source.pointer ? ` (at ${e.source.pointer})` : "") }))));
    } else {
      title = [el("span", { class: "badge note", text: item.note }), el("span", { text: item.reason })];
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
    if (!state.member) {
      document.getElementById("member").hidden = true;
      return;
    }
    let m;
    try {
      m = await get("member", { account: state.memberAccount || account(), id: state.member });
    } catch (error) {
      replace("member", el("p", { class: "warn", text: `Profile ${state.member}: ${error.message}` }));
      document.getElementById("member").hidden = false;
      return;
    }
    const key = JSON.stringify(m);
    if (!force && state.shown.member === key) return;
    state.shown.member = key;
    const p = m.profile;
    const name = m.attributes.filter((a) => a.attribute === "first_name" || a.attribute === "last_name").map((a) => show(a.value)).join(" ");
    const v = m.verdict;
    const node = replace(
      "member",
      el(
        "div",
        { class: "member-head" },
        el("h2", {}, "Member ", el("span", { class: "member-name", text: name || p.email || p.id })),
        el("button", { type: "button", text: "Close", onclick: () => openMember(null) }),
      ),
      el(
        "dl",
        { class: "identifiers" },
        [["Klaviyo id", p.id], ["external id", p.external_id], ["email", p.email], ["phone", p.phone_number], ["created", day(p.created)], ["updated", day(p.updated)]]
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
          el("p", { class: "muted small", text: "Rebuilt from the request log, oldest first: each profile change as before → after." }),
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
    node.hidden = false;
  }

  function openMember(id, inAccount) {
    state.member = id;
    state.memberAccount = inAccount || null;
    state.shown.member = null;
    remember();
    drawMember(true).then(() => {
      if (id) document.getElementById("member").scrollIntoView({ block: "start" });
    });
    pagers.profiles.refresh(true);
  }

  // -- one request ---------------------------------------------------------------------------------------------

  async function openRequest(seq) {
    state.detail = seq;
    const r = await get(`requests/${seq}`);
    const node = replace(
      "detail",
      el(
        "div",
        { class: "member-head" },
        el("h2", {}, `Request #${r.seq} `, status(r.status), el("span", { class: "mono", text: ` ${r.method} ${r.path}${r.query ? "?" + r.query : ""}` })),
        el("button", { type: "button", text: "Close", onclick: () => { document.getElementById("detail").hidden = true; } }),
      ),
      el(
        "dl",
        { class: "identifiers" },
        [["operation", r.operation], ["key", r.masked_key], ["received", day(r.received)], ["time", `${r.duration_ms} ms`], ["fault", r.fault], ["request id", r.id]]
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
    node.hidden = false;
    node.scrollIntoView({ block: "start" });
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
    chooseTab(state.tab);
    if (state.member) drawMember(true);
    loop();
  }

  start();
})();
