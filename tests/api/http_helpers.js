// Shared by the feed scripts beside it: requests over one keep-alive agent, and order creation.
"use strict";
const http = require("http");

function client(port) {
  const base = `http://127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  function request(method, path, payload) {
    return new Promise((resolve, reject) => {
      const headers = payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {};
      const req = http.request(`${base}${path}`, { method, agent, headers }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode, text }));
      });
      req.on("error", reject);
      req.end(payload);
    });
  }
  // A product of the demo data with 1,000,000 units of stock: creates never run dry.
  const createBody = JSON.stringify({
    customerId: "123e4567-e89b-12d3-a456-426614174001",
    items: [{ productId: "123e4567-e89b-12d3-a456-426614174000", quantity: 1 }],
  });
  async function create() {
    const r = await request("POST", "/orders", createBody);
    if (r.status !== 201) throw new Error(`POST /orders answered ${r.status}: ${r.text}`);
    return JSON.parse(r.text).data.id;
  }
  return { request, create, close: () => agent.destroy() };
}

module.exports = { client };
