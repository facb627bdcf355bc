// Real WebSocket clients (the npm `ws` package) on the feeds. Usage (NODE_PATH = tests/node/node_modules):
//   node ws_feed.js order PORT
//     One order's feed: the frames of its events in order (sequence, type, data), an ack, then the
//     close with 1000 after order.deleted; a second client's malformed ack is closed with 1008.
//   node ws_feed.js slow PORT SERVER_PID CLIENTS CREATES
//     CLIENTS clients on /ws/events that stop reading (their sockets paused) while CREATES orders
//     are written: prints the server's peak RSS growth and the feed metrics once they are gone.
// Prints one JSON line; exits 1 with {"error": ...} on a broken expectation it can see itself.
"use strict";
const fs = require("fs");
const WebSocket = require("ws");

const mode = process.argv[2];
const port = Number(process.argv[3]);
const { request, create, close: closeClient } = require("./http_helpers").client(port);
function fail(message) {
  console.log(JSON.stringify({ error: message }));
  process.exit(1);
}
/// Opens `url`; `onMessage`, when given, is attached before the handshake ends: the server sends the
/// first frames at once, and ws may emit them in the same tick as "open".
function opened(url, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    if (onMessage) ws.on("message", onMessage);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}
function closed(ws) {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function order() {
  const id = await create();
  const frames = [];
  const ws = await opened(`ws://127.0.0.1:${port}/ws/orders/${id}/events`, (m, binary) => {
    if (binary) fail("a binary frame");
    frames.push(JSON.parse(m.toString()));
  });
  const end = closed(ws);
  const put = (path, b) => request("PUT", `/orders/${id}${path}`, JSON.stringify(b));
  await put("/status", { status: "shipped" });
  await put("/shipping", { trackingNumber: "1Z9", trackingCompany: "UPS" });
  while (frames.length < 3) await new Promise((r) => setTimeout(r, 10));
  ws.send(JSON.stringify({ ack: frames[frames.length - 1].sequence }));
  await request("DELETE", `/orders/${id}`);
  const { code, reason } = await end;

  // A malformed ack, and an ack past what was sent, on two more clients: closed with 1008.
  const other = await create();
  const bad = await opened(`ws://127.0.0.1:${port}/ws/orders/${other}/events`);
  const badEnd = closed(bad);
  bad.send("hello");
  let first;
  const firstFrame = new Promise((r) => (first = r));
  const ahead = await opened(`ws://127.0.0.1:${port}/ws/orders/${other}/events`, () => first());
  const aheadEnd = closed(ahead);
  await firstFrame;
  ahead.send(JSON.stringify({ ack: 1e12 }));
  const badClose = await badEnd, aheadClose = await aheadEnd;
  closeClient();
  console.log(JSON.stringify({
    types: frames.map((f) => f.type),
    sequences: frames.map((f) => f.sequence),
    same_names: frames.every((f) => f.id === f.sequence && f.event === f.type),
    versions: frames.map((f) => f.data.version),
    stream_ok: frames.every((f) => f.data.streamId === `order-${id}` && f.data.sequence === f.sequence),
    code, reason, bad_code: badClose.code, bad_reason: badClose.reason,
    ahead_code: aheadClose.code, ahead_reason: aheadClose.reason,
  }));
}

function rss_kb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}
async function metric(name) {
  const r = await request("GET", "/metrics");
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(r.text);
  return m ? Number(m[1]) : NaN;
}

async function slow() {
  const pid = Number(process.argv[4]);
  const clients = Number(process.argv[5] || 20);
  const creates = Number(process.argv[6] || 3000);
  await create();  // the server's first allocations happen before the baseline
  const baseline = rss_kb(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rss_kb(pid))), 20);
  const sockets = [];
  const ends = [];
  for (let i = 0; i < clients; i++) {
    const ws = await opened(`ws://127.0.0.1:${port}/ws/events?after=0`);
    ws._socket.pause();  // reads nothing from now on: the kernel buffers fill, then the server's write stalls
    ends.push(closed(ws));
    sockets.push(ws);
  }
  const subscribed = await metric("orderflow_feed_subscribers");
  let made = 0;
  const writer = async () => {
    while (made < creates) {
      made++;
      await create();
    }
  };
  await Promise.all([writer(), writer(), writer(), writer()]);
  // Every client is cut off by the server once its writes stall.
  const deadline = Date.now() + 30000;
  let disconnected = 0, left = clients;
  while (Date.now() < deadline) {
    disconnected = await metric("orderflow_feed_slow_disconnects_total");
    left = await metric("orderflow_feed_subscribers");
    if (disconnected >= clients && left === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(sampler);
  for (const ws of sockets) ws._socket.resume();  // the clients now see the end of their connections
  const codes = await Promise.all(ends.map((p) => Promise.race([p, new Promise((r) => setTimeout(() => r({ code: -1 }), 5000))])));
  closeClient();
  console.log(JSON.stringify({
    subscribed, disconnected, left, closed: codes.filter((c) => c.code !== -1).length,
    baseline_kb: baseline, peak_kb: peak, growth_kb: peak - baseline,
  }));
}

(mode === "order" ? order() : slow()).then(() => process.exit(0), (e) => fail(String((e && e.stack) || e)));
