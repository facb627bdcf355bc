// A real WhatWG EventSource (the npm `eventsource` package) on GET /events while this script
// creates orders concurrently. It connects mid-stream (after some orders exist) through a TCP
// proxy of this script's own, which cuts the connection twice at random points: the EventSource
// then reconnects by itself and resumes with the Last-Event-ID header, as a browser does. It must
// receive every sequence after its first exactly once and in order, to the last one written.
// Usage: node sse_resume.js PORT CREATES   (NODE_PATH = tests/node/node_modules)
// Prints one JSON line: {received, first, last, head, duplicates, gaps, reconnects, drops, ...}.
"use strict";
const net = require("net");
const { EventSource } = require("eventsource");

const port = Number(process.argv[2]);
const creates = Number(process.argv[3] || 2500);
const { create, close: closeClient } = require("./http_helpers").client(port);

let made = 0;
async function writer() {
  while (made < creates) {
    made++;
    await create();
  }
}

// The proxy: each client connection is piped to the server; drop() destroys the live ones.
const live = new Set();
const proxy = net.createServer((client) => {
  const upstream = net.connect(port, "127.0.0.1");
  client.pipe(upstream);
  upstream.pipe(client);
  const pair = { client, upstream };
  live.add(pair);
  const close = () => {
    live.delete(pair);
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close);
  upstream.on("error", close);
  client.on("close", close);
  upstream.on("close", close);
});
let drops = 0;
function drop() {
  drops++;
  for (const { client, upstream } of [...live]) {
    client.destroy();
    upstream.destroy();
  }
}

function fail(message) {
  console.log(JSON.stringify({ error: message }));
  process.exit(1);
}

async function main() {
  await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
  const proxyPort = proxy.address().port;
  // Some orders exist before the subscriber comes: it joins mid-stream (after=4).
  for (let i = 0; i < 2; i++) await create();
  const writers = [writer(), writer(), writer(), writer()];

  const seen = [];
  let opens = 0;
  const es = new EventSource(`http://127.0.0.1:${proxyPort}/events?after=4`);
  es.addEventListener("open", () => opens++);
  const types = new Set(["order.created", "inventory.reserved"]);
  for (const t of types) {
    es.addEventListener(t, (e) => {
      const line = JSON.parse(e.data);
      if (String(line.sequence) !== e.lastEventId) fail(`id ${e.lastEventId} but data.sequence ${line.sequence}`);
      seen.push(Number(e.lastEventId));
    });
  }
  // Two cuts at random points while the writers run.
  const dropAt = [150 + Math.floor(Math.random() * 1500), 1800 + Math.floor(Math.random() * 1500)];
  const cut = setInterval(() => {
    if (dropAt.length && seen.length >= dropAt[0]) {
      dropAt.shift();
      drop();
    }
  }, 5);

  await Promise.all(writers);
  const total = creates + 2;
  const head = total * 2; // two events (order.created, inventory.reserved) a create
  const deadline = Date.now() + 60000;
  while ((seen.length === 0 || seen[seen.length - 1] < head) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  clearInterval(cut);
  es.close();
  proxy.close();
  closeClient();

  let duplicates = 0, gaps = 0, disorder = 0;
  const counted = new Set();
  for (let i = 0; i < seen.length; i++) {
    if (counted.has(seen[i])) duplicates++;
    counted.add(seen[i]);
    if (i > 0 && seen[i] <= seen[i - 1]) disorder++;
  }
  for (let s = 5; s <= head; s++) if (!counted.has(s)) gaps++;
  console.log(JSON.stringify({
    received: seen.length, first: seen[0], last: seen[seen.length - 1], head,
    duplicates, gaps, disorder, reconnects: opens - 1, drops, pending_drops: dropAt.length,
  }));
}

main().catch((e) => fail(String(e && e.stack || e)));
