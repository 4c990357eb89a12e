// The streamclient inspector page: plain JavaScript, no build step, no network but its own server.
// Items from /api/snapshot and the /api/events stream are applied by key; drawing is throttled; every list is bounded.
"use strict";

const MAX_FRAMES = 1000;      // kept for the selected room (the server keeps as many)
const MAX_ROWS = 400;         // frame rows in the table
const MAX_CONVERSATION = 300; // bubbles and notes
const MAX_TURNS = 20;         // latency bars drawn
const CHART_SECONDS = 30;     // the charts' time span
const DRAW_MS = 200;          // at most one redraw per this many ms
const COLORS = ["#2563eb", "#7c3aed", "#b45309", "#059669", "#be185d", "#0891b2", "#4d7c0f", "#9333ea"];
const SVG = "http://www.w3.org/2000/svg";

const state = {
  live: false, seq: 0, room: null, followNewest: true, lost: 0,
  rooms: new Map(), sessions: new Map(), peers: new Map(),
  frames: [], says: new Map(), notes: new Map(), turns: new Map(), rates: new Map(),
  convo: [], renderedFrames: 0, openFrame: null, source: null, dirty: false, drawTimer: null,
};

const $ = (id) => document.getElementById(id);
const el = (tag, attrs, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
};
const svg = (tag, attrs, text) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};
const fmt = (t) => (t === null || t === undefined ? "" : Number(t).toFixed(3));
const api = (path) => "api/" + path;
const roomPath = (room, what) => api("rooms/" + encodeURIComponent(room) + "/" + what);

// ------------------------------------------------------------------------------------------------ items

function resetDetail() {
  state.frames = []; state.says = new Map(); state.notes = new Map(); state.turns = new Map();
  state.rates = new Map(); state.convo = []; state.renderedFrames = 0; state.openFrame = null;
  $("frames").tBodies[0].replaceChildren(); $("conversation").replaceChildren();
  $("frame-detail").hidden = true;
}

function apply(item) {
  switch (item.k) {
    case "room":
      state.rooms.set(item.room, item);
      if (state.followNewest && item.open && item.room !== state.room) {
        const cur = state.rooms.get(state.room);
        if (!cur || !cur.open || item.opened >= cur.opened) select(item.room, false);
      }
      break;
    case "counts": {
      const room = state.rooms.get(item.room);
      if (room) Object.assign(room, { frames: item.frames, refused: item.refused, dropped: item.dropped });
      break;
    }
    case "session": state.sessions.set(item.id, item); break;
    case "peer": {
      if (!state.peers.has(item.room)) state.peers.set(item.room, new Map());
      state.peers.get(item.room).set(item.uid, item);
      break;
    }
    default:
      if (item.room !== state.room) return;
      applyDetail(item);
  }
  state.dirty = true;
}

function applyDetail(item) {
  switch (item.k) {
    case "frame":
      if (state.frames.length && item.n <= state.frames[state.frames.length - 1].n) return; // seen (snapshot + stream)
      state.frames.push(item);
      if (state.frames.length > MAX_FRAMES) state.frames.splice(0, state.frames.length - MAX_FRAMES);
      break;
    case "say": {
      const seen = state.says.get(item.key);
      state.says.set(item.key, item);
      if (!seen) pushConvo({ kind: "say", key: item.key, t: item.t });
      break;
    }
    case "note": {
      const seen = state.notes.get(item.n);
      state.notes.set(item.n, item);
      if (!seen) pushConvo({ kind: "note", key: item.n, t: item.t });
      break;
    }
    case "turn":
      state.turns.set(item.id, item);
      if (state.turns.size > 100) state.turns.delete(state.turns.keys().next().value);
      break;
    case "rate": {
      if (!state.rates.has(item.uid)) state.rates.set(item.uid, new Map());
      const bins = state.rates.get(item.uid);
      bins.set(item.bin, item);
      if (bins.size > 480) bins.delete(bins.keys().next().value);
      break;
    }
  }
}

function pushConvo(entry) {
  state.convo.push(entry);
  if (state.convo.length > MAX_CONVERSATION) {
    const gone = state.convo.shift();
    if (gone.kind === "say") state.says.delete(gone.key); else state.notes.delete(gone.key);
    const node = $("conversation").firstElementChild;
    if (node) node.remove();
  }
}

// ------------------------------------------------------------------------------------------------ data flow

async function loadSnapshot() {
  const query = state.room ? "?room=" + encodeURIComponent(state.room) : "";
  const response = await fetch(api("snapshot" + query), { cache: "no-store" });
  if (!response.ok) throw new Error("snapshot: HTTP " + response.status);
  const snap = await response.json();
  state.live = snap.live; state.seq = snap.seq; state.lost = snap.lost || 0;
  $("title").textContent = snap.title;
  $("mode").textContent = snap.live ? "live" : "recording";
  const wanted = state.room;
  for (const item of snap.items) apply(item);
  if (state.room !== wanted) return; // apply() picked a room: select() reloads
  connect();
  draw();
}

function connect() {
  if (state.source) state.source.close();
  const params = new URLSearchParams({ after: String(state.seq) });
  if (state.room) params.set("room", state.room);
  const source = new EventSource(api("events?" + params));
  state.source = source;
  source.onopen = () => { setStatus(true); document.body.dataset.watching = state.room || ""; };
  source.onmessage = (event) => {
    const items = JSON.parse(event.data);
    for (const item of items) {
      apply(item);
      if (item.seq > state.seq) state.seq = item.seq;
    }
    schedule();
  };
  source.addEventListener("reset", () => { source.close(); reload(); });
  source.onerror = () => {
    source.close();
    if (state.source !== source) return;
    state.source = null;
    setStatus(false);
    setTimeout(() => { if (!state.source) connect(); }, 1000);
  };
}

function setStatus(on) {
  const status = $("status");
  status.textContent = on ? "connected" : "disconnected";
  status.className = "badge " + (on ? "on" : "off");
}

function reload() {
  resetDetail();
  loadSnapshot().catch(showError);
}

function select(room, byUser) {
  if (byUser) state.followNewest = false;
  if (state.room === room) return;
  state.room = room;
  history.replaceState(null, "", "#room=" + encodeURIComponent(room));
  reload();
}

function schedule() {
  if (state.drawTimer === null) state.drawTimer = setTimeout(() => { state.drawTimer = null; draw(); }, DRAW_MS);
}

function showError(error) {
  const out = $("act-result");
  out.textContent = String(error && error.message ? error.message : error);
  out.className = "err";
}

// ------------------------------------------------------------------------------------------------ drawing

function draw() {
  if (!state.dirty) return;
  state.dirty = false;
  drawRooms(); drawPeers(); drawRoomInfo(); drawControls(); drawConversation(); drawFrames(); drawCharts(); drawTurns();
  const lost = $("lost");
  lost.hidden = !state.lost;
  lost.textContent = state.lost + " events lost";
}

function drawRooms() {
  const list = $("rooms");
  const rooms = [...state.rooms.values()].reverse();
  if (!rooms.length) return;
  list.replaceChildren(...rooms.map((r) => {
    const li = el("li", { "data-room": r.room, class: (r.open ? "" : "closed ") + (r.room === state.room ? "sel" : "") });
    li.append(el("div", { class: "ch" }, r.room));
    const refused = r.refused ? ", " + r.refused + " refused" : "";
    li.append(el("div", { class: "meta" }, (r.session || "shared room") + " · " + r.frames + " frames" + refused));
    li.onclick = () => select(r.room, true);
    return li;
  }));
}

function drawPeers() {
  const peers = state.peers.get(state.room);
  $("peers").replaceChildren(...(peers ? [...peers.values()] : []).map((p) => {
    const li = el("li", { class: p.here ? "" : "gone", "data-uid": p.uid, "data-role": p.role });
    li.append(el("span", { class: "role " + p.role }, p.role), el("span", {}, p.uid));
    li.title = "joined at " + fmt(p.joined) + " s" + (p.here ? "" : ", left at " + fmt(p.left) + " s (reason " + p.reason + ")");
    return li;
  }));
}

function drawRoomInfo() {
  const r = state.rooms.get(state.room);
  const info = $("room-info");
  if (!r) { info.replaceChildren(); return; }
  const session = r.session ? state.sessions.get(r.session) : null;
  const rows = [
    ["channel", r.room], ["state", r.open ? "open" : "closed (reason " + r.reason + ")"],
    ["session", r.session || "-"], ["avatar", session ? session.avatar_id : "-"],
    ["mode", session && session.mode ? String(session.mode) : "-"], ["status", session ? session.status : "-"],
    ["limit", r.limits.max_message_bytes + " B/msg, " + r.limits.bytes_per_second + " B/s, " + r.limits.messages_per_second + " msg/s"],
    ["frames", r.frames + (r.dropped ? " (" + r.dropped + " oldest dropped)" : "")], ["refused", String(r.refused)],
  ];
  info.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function drawControls() {
  const r = state.rooms.get(state.room);
  const can = state.live && r && r.open;
  for (const id of ["btn-speak", "btn-chat", "btn-interrupt", "say-text"]) $(id).disabled = !can;
  $("controls").hidden = !r;
  const link = $("btn-download");
  if (r) {
    link.href = roomPath(r.room, "recording.jsonl");
    link.setAttribute("download", r.room + ".jsonl");
  }
}

function drawConversation() {
  const box = $("conversation");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
  const nodes = box.children;
  for (let i = 0; i < state.convo.length; i++) {
    const entry = state.convo[i];
    let node = nodes[i];
    if (!node) { node = entry.kind === "say" ? sayNode(entry.key) : noteNode(entry.key); box.append(node); }
    if (entry.kind === "say") updateSay(node, state.says.get(entry.key));
    else updateNote(node, state.notes.get(entry.key));
  }
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function sayNode(key) {
  const node = el("div", { class: "say", "data-key": key });
  node.append(el("span", { class: "who" }), el("span", { class: "text" }));
  return node;
}

const WHO = { bot: "bot", avatar: "avatar", user: "user (speech)", viewer: "viewer", page: "viewer (this page)" };

function updateSay(node, say) {
  if (!say) return;
  node.dataset.who = say.who;
  node.dataset.mid = say.mid;
  node.classList.toggle("growing", !say.fin && say.who === "avatar");
  node.firstChild.textContent = (WHO[say.who] || say.who) + " " + say.uid + " · " + fmt(say.t) + " s" + (say.fin ? "" : " · " + say.chunks + " chunks…");
  if (node.lastChild.textContent !== say.text) node.lastChild.textContent = say.text;
}

function noteNode(key) { return el("div", { class: "note", "data-n": String(key) }); }

function updateNote(node, note) {
  if (!note) return;
  let text;
  node.className = "note";
  node.dataset.what = note.what;
  if (note.what === "audio_start") text = "▶ avatar starts speaking";
  else if (note.what === "audio_end") text = "■ avatar stops speaking";
  else if (note.what === "ack") text = "ack " + note.code + " (mid " + note.mid + ")";
  else if (note.role === "avatar") text = "event " + note.what;
  else {
    node.classList.add("cmd");
    const data = note.data ? " " + JSON.stringify(note.data) : "";
    const ack = note.ack ? " → ack " + note.ack.code + " after " + Math.round((note.ack.t - note.t) * 1000) + " ms" : " (no ack yet)";
    if (note.ack && note.ack.code !== 1000) node.classList.add("fail");
    text = "» " + note.what + data + " from " + note.role + " " + note.uid + ack;
  }
  node.textContent = fmt(note.t) + " s  " + text;
}

function verdict(f) {
  if (f.code !== 0) return { cls: "refused", text: "refused " + f.code + " " + (f.codename || "") };
  if (f.bad) return { cls: "bad", text: "undecodable: " + f.bad };
  if (f.guide) return { cls: "guide", text: "over 6 KB/s guide" };
  return { cls: "", text: "delivered" };
}

function drawFrames() {
  const body = $("frames").tBodies[0];
  const onlyFlagged = $("only-flagged").checked;
  const last = state.frames.length ? state.frames[state.frames.length - 1].n : 0;
  if (state.renderedFrames > last) { body.replaceChildren(); state.renderedFrames = 0; }
  const fresh = state.frames.filter((f) => f.n > state.renderedFrames && (!onlyFlagged || f.code !== 0 || f.bad || f.guide));
  for (const f of fresh) {
    const v = verdict(f);
    const tr = el("tr", { "data-n": String(f.n), class: v.cls || null });
    tr.append(
      el("td", {}, String(f.n)), el("td", {}, fmt(f.t)),
      el("td", { class: "dir-" + f.dir }, f.dir === "out" ? "→ avatar" : "← avatar"),
      el("td", { class: "mono" }, f.role + " " + f.uid), el("td", {}, String(f.size)),
      el("td", {}, f.type === "command" || f.type === "ack" ? f.type + " " + f.cmd : (f.type === "event" ? "event " + f.event : (f.type || "-"))),
      el("td", { class: "mono" }, f.mid || ""), el("td", {}, f.idx === undefined || f.idx === null ? "" : String(f.idx)),
      el("td", {}, f.fin === undefined || f.fin === null ? "" : String(f.fin)), el("td", { class: "verdict" }, v.text),
    );
    tr.onclick = () => openFrame(f, tr);
    body.append(tr);
  }
  state.renderedFrames = last;
  while (body.rows.length > MAX_ROWS) body.deleteRow(0);
  const r = state.rooms.get(state.room);
  $("frames-note").textContent = r ? r.frames + " frames, " + r.refused + " refused" + (r.dropped ? ", " + r.dropped + " oldest no longer kept" : "") : "";
  if (fresh.length) {
    const wrap = $("frames-wrap");
    if (wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 60) wrap.scrollTop = wrap.scrollHeight;
  }
}

function openFrame(f, tr) {
  const detail = $("frame-detail");
  for (const row of document.querySelectorAll("#frames tr.open")) row.classList.remove("open");
  if (state.openFrame === f.n) { state.openFrame = null; detail.hidden = true; return; }
  state.openFrame = f.n;
  tr.classList.add("open");
  let body;
  try { body = JSON.stringify(JSON.parse(f.text), null, 2); } catch (e) { body = f.text + "\n\n(not JSON: " + (f.bad || e.message) + ")"; }
  const v = verdict(f);
  detail.textContent = "frame " + f.n + " · " + f.size + " bytes · " + v.text + "\n" + body;
  detail.hidden = false;
}

function drawCharts() {
  const r = state.rooms.get(state.room);
  if (!r) return;
  const senders = [...state.rates.keys()];
  let tmax = 0;
  for (const bins of state.rates.values()) for (const b of bins.values()) tmax = Math.max(tmax, b.t + 0.25);
  const t0 = Math.max(0, tmax - CHART_SECONDS);
  chart($("chart-bytes"), senders, "bytes", r.limits.bytes_per_second, r.limits.guide_bytes_per_second, t0, "B/s");
  chart($("chart-msgs"), senders, "msgs", r.limits.messages_per_second, null, t0, "msg/s");
  $("legend").replaceChildren(...senders.map((uid, i) => {
    const span = el("span", {});
    const swatch = el("i", {});
    swatch.style.background = COLORS[i % COLORS.length];
    const peer = (state.peers.get(state.room) || new Map()).get(uid);
    span.append(swatch, document.createTextNode((peer ? peer.role + " " : "") + uid));
    return span;
  }));
}

function chart(node, senders, field, limit, guide, t0, unit) {
  const box = node.viewBox.baseVal;
  const left = 46, right = box.width - 8, top = 8, bottom = box.height - 18;
  let vmax = Math.max(limit, guide || 0) * 1.15;
  for (const bins of state.rates.values()) for (const b of bins.values()) if (b.t >= t0) vmax = Math.max(vmax, b[field] * 1.1);
  const x = (t) => left + ((t - t0) / CHART_SECONDS) * (right - left);
  const y = (v) => top + (1 - v / vmax) * (bottom - top);
  const parts = [svg("line", { class: "axis", x1: left, x2: right, y1: bottom, y2: bottom }), svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: bottom })];
  for (let s = 0; s <= CHART_SECONDS; s += 5) parts.push(svg("text", { x: x(t0 + s) - 8, y: box.height - 4 }, (t0 + s).toFixed(0) + "s"));
  parts.push(svg("text", { x: 2, y: top + 8 }, Math.round(vmax) + ""), svg("text", { x: 2, y: bottom }, "0"));
  const line = (cls, value, label) => {
    parts.push(svg("line", { class: cls, "data-line": cls, "data-value": String(value), x1: left, x2: right, y1: y(value), y2: y(value) }));
    parts.push(svg("text", { x: left + 4, y: y(value) - 3, "data-label": cls }, label));
  };
  line("limit", limit, "room limit " + limit + " " + unit);
  if (guide !== null && guide !== undefined) {
    if (guide === limit) parts[parts.length - 1].textContent += " = AKOOL guide";
    else line("guide", guide, "AKOOL guide " + guide + " " + unit);
  }
  senders.forEach((uid, i) => {
    const bins = [...state.rates.get(uid).values()].filter((b) => b.t >= t0).sort((a, b) => a.t - b.t);
    if (!bins.length) return;
    let d = "";
    let prev = null;
    for (const b of bins) {
      if (prev !== null && b.t - prev > 1.01) d += "L" + x(prev + 1).toFixed(1) + "," + y(0).toFixed(1) + "M" + x(b.t - 0.25).toFixed(1) + "," + y(0).toFixed(1);
      d += (d ? "L" : "M") + x(b.t).toFixed(1) + "," + y(b[field]).toFixed(1);
      prev = b.t;
    }
    parts.push(svg("path", { d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": "1.5", "data-uid": uid }));
  });
  node.dataset.vmax = String(vmax);
  node.dataset.top = String(top);
  node.dataset.bottom = String(bottom);
  node.replaceChildren(...parts);
}

function drawTurns() {
  const turns = [...state.turns.values()].slice(-MAX_TURNS);
  let span = 0.001;
  for (const t of turns) span = Math.max(span, (t.aend || t.astart || t.first || t.t1 || t.t0) - t.t0);
  $("turns").replaceChildren(...turns.map((t) => {
    const row = el("div", { class: "turn" + (t.interrupted ? " cut" : ""), "data-id": String(t.id) });
    row.append(el("span", { class: "mono" }, "#" + t.id + " " + t.by + (t.interrupted ? " (cut)" : "")));
    const bar = el("div", { class: "bar" });
    const seg = (cls, a, b, title) => {
      if (a === null || b === null || b < a) return;
      const s = el("div", { class: "seg " + cls, title: title + ": " + Math.round((b - a) * 1000) + " ms" });
      s.style.left = ((a - t.t0) / span) * 100 + "%";
      s.style.width = Math.max(0.5, ((b - a) / span) * 100) + "%";
      bar.append(s);
    };
    seg("sending", t.t0, t.t1, "sending (first to last frame)");
    seg("waiting", t.t1, t.first, "until the first reply chunk");
    seg("starting", t.first, t.astart, "first chunk to audio start");
    seg("speaking", t.astart !== null ? t.astart : null, t.aend, "speaking");
    row.append(bar);
    const latency = t.first !== null && t.t1 !== null ? Math.round((t.first - t.t1) * 1000) + " ms" : "…";
    row.append(el("span", { title: "last request frame to first reply chunk" }, latency));
    return row;
  }));
}

// ------------------------------------------------------------------------------------------------ controls

async function act(action) {
  const out = $("act-result");
  const text = $("say-text").value;
  out.className = ""; out.textContent = "…";
  try {
    const response = await fetch(roomPath(state.room, action), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || "HTTP " + response.status);
    out.textContent = action + " sent (mid " + answer.mid + ")";
    if (action !== "interrupt") $("say-text").value = "";
  } catch (error) {
    showError(error);
  }
}

function start() {
  const match = /room=([^&]+)/.exec(location.hash);
  if (match) { state.room = decodeURIComponent(match[1]); state.followNewest = false; }
  $("btn-speak").onclick = () => act("speak");
  $("btn-chat").onclick = () => act("chat");
  $("btn-interrupt").onclick = () => act("interrupt");
  $("say-text").onkeydown = (e) => { if (e.key === "Enter") act(e.shiftKey ? "chat" : "speak"); };
  $("only-flagged").onchange = () => { $("frames").tBodies[0].replaceChildren(); state.renderedFrames = 0; state.dirty = true; draw(); };
  loadSnapshot().catch(showError);
}

start();
