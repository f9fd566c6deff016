// A webhook receiver for the end-to-end tests: it verifies every delivery with the
// standardwebhooks package (the reference verifier, not Ciclo's code) and answers with
// the statuses the test plans.
//   node webhook_receiver.mjs PORT_FILE
// Control: POST /_control {"secret": "whsec_...", "plan": [500, 200]} sets the secret and the
// next answers (then 200); {"secrets": {"/path": "whsec_..."}} gives a path its own secret;
// GET /_received lists what arrived.
import http from "node:http";
import fs from "node:fs";
import { Webhook } from "standardwebhooks";

let secret = null;
let secrets = {};
let plan = [];
const received = [];

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    if (req.url === "/_control" && req.method === "POST") {
      const control = JSON.parse(body);
      if (control.secret !== undefined) secret = control.secret;
      if (control.secrets !== undefined) secrets = { ...secrets, ...control.secrets };
      if (control.plan !== undefined) plan = control.plan;
      res.writeHead(204).end();
      return;
    }
    if (req.url === "/_received") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received));
      return;
    }
    let verified = false;
    let error = null;
    let event = null;
    try {
      event = new Webhook(secrets[req.url] ?? secret).verify(body, req.headers);
      verified = true;
    } catch (e) {
      error = String(e && e.message ? e.message : e);
    }
    const status = verified ? (plan.length ? plan.shift() : 200) : 400;
    received.push({
      path: req.url,
      id: req.headers["webhook-id"],
      timestamp: req.headers["webhook-timestamp"],
      signature: req.headers["webhook-signature"],
      verified,
      error,
      status,
      event,
    });
    res.writeHead(status, { "content-type": "text/plain" }).end("ok");
  });
});

server.listen(0, "127.0.0.1", () => {
  const file = process.argv[2];
  fs.writeFileSync(file + ".tmp", String(server.address().port));
  fs.renameSync(file + ".tmp", file);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
