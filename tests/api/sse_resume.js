// A real WhatWG EventSource (the npm `eventsource` package) on GET /events while this script
// creates orders concurrently: it connects mid-stream, drops its connection twice at random points
// and reconnects with Last-Event-ID, and must receive every sequence exactly once, in order.
// Usage: node sse_resume.js PORT CREATES   (NODE_PATH = tests/node/node_modules)
// Prints one JSON line: {received, first, last, expected, duplicates, gaps, reconnects, ...}.
"use strict";
const http = require("http");
const EventSource = require("eventsource");

const port = Number(process.argv[2]);
const creates = Number(process.argv[3] || 2500);
const base = `http://127.0.0.1:${port}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const body = JSON.stringify({
  customerId: "123e4567-e89b-12d3-a456-426614174001",
  items: [{ productId: "123e4567-e89b-12d3-a456-426614174000", quantity: 1 }],
});

function post() {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/orders`,
      { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`POST ${res.statusCode}`))));
      }
    );
    req.on("error", reject);
    req.end(body);
  });
}

let made = 0;
async function writer() {
  while (made < creates) {
    made++;
    await post();
  }
}

const seen = [];
let duplicates = 0, gaps = 0, reconnects = 0, errors = 0, lastId = "";
const drops = new Set();
// Two drops at random points of the stream (by count of events received).
while (drops.size < 2) drops.add(200 + Math.floor(Math.random() * (2 * creates - 600)));

let source = null;
let done = null;
const finished = new Promise((resolve) => (done = resolve));
let expected = Infinity;

function connect() {
  const init = lastId ? { headers: { "Last-Event-ID": lastId } } : {};
  source = new EventSource(`${base}/events`, init);
  const onEvent = (e) => {
    const seq = Number(e.lastEventId);
    const prev = seen.length ? seen[seen.length - 1] : 0;
    if (seq <= prev) duplicates++;
    else if (seq !== prev + 1) gaps++;
    seen.push(seq);
    lastId = e.lastEventId;
    const line = JSON.parse(e.data);
    if (line.sequence !== seq) gaps++;
    if (drops.has(seen.length)) {
      // Dropped here: the next connection resumes after the last event received.
      source.close();
      reconnects++;
      setTimeout(connect, Math.floor(Math.random() * 50));
      return;
    }
    if (seq >= expected) done();
  };
  for (const type of ["order.created", "inventory.reserved"]) source.addEventListener(type, onEvent);
  source.onerror = () => errors++;
}

(async () => {
  const timer = setTimeout(() => done(), 120000);
  // Mid-stream: the subscriber comes once some orders exist and while the writers go on.
  const writers = [writer(), writer(), writer(), writer()];
  while (made < Math.min(300, creates)) await new Promise((r) => setTimeout(r, 5));
  connect();
  await Promise.all(writers);
  expected = 2 * creates;  // OrderCreated and InventoryReserved per order, sequences 1..2N
  if (seen.length && seen[seen.length - 1] >= expected) done();
  await finished;
  clearTimeout(timer);
  source.close();
  agent.destroy();
  const ok = seen.length === expected && duplicates === 0 && gaps === 0 && seen[0] === 1 && reconnects === 2;
  console.log(JSON.stringify({ ok, received: seen.length, first: seen[0], last: seen[seen.length - 1], expected,
                               duplicates, gaps, reconnects, errors }));
  process.exit(ok ? 0 : 1);
})();
