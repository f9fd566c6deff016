// A real SMTP server for the tests, built on the smtp-server npm package, with what arrives
// parsed by mailparser (not by Ciclo's code).
//   node smtp_server.mjs DIR
// DIR/tls.key and DIR/tls.crt, when present, are offered for STARTTLS; DIR/auth.json
// ({"user": ..., "pass": ...}), when present, makes AUTH required. The SMTP port is written
// to DIR/smtp.port and a control port to DIR/control.port:
//   POST /_control {"plan": ["accept", "defer", "reject-hard", "reject-soft", "drop"]}
//     the answers to the next messages' end of DATA (then "accept"): 250; 451 4.3.0;
//     550 5.1.1; 552 5.2.2; or take the message and drop the connection before the 250.
//   GET /_received  the messages taken, parsed: envelope, headers, text, html, attempts.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";

const dir = process.argv[2];
const read = (name) => {
  const file = path.join(dir, name);
  return fs.existsSync(file) ? fs.readFileSync(file) : null;
};
const key = read("tls.key");
const cert = read("tls.crt");
const authFile = read("auth.json");
const auth = authFile ? JSON.parse(authFile) : null;

let plan = [];
const received = [];
const sockets = new Set();

const smtp = new SMTPServer({
  secure: false,
  key: key ?? undefined,
  cert: cert ?? undefined,
  hideSTARTTLS: !key,
  authOptional: !auth,
  authMethods: ["PLAIN", "LOGIN"],
  disabledCommands: auth ? [] : ["AUTH"],
  allowInsecureAuth: false,
  logger: false,
  size: 10 * 1024 * 1024,
  onAuth(a, session, callback) {
    if (auth && a.username === auth.user && a.password === auth.pass) {
      return callback(null, { user: a.username });
    }
    return callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", async () => {
      const raw = Buffer.concat(chunks);
      const step = plan.length ? plan.shift() : "accept";
      const parsed = await simpleParser(raw);
      const headers = {};
      for (const [k, v] of parsed.headers) headers[k] = typeof v === "string" ? v : JSON.stringify(v);
      received.push({
        step,
        secure: session.secure,
        user: session.user ?? null,
        mail_from: session.envelope.mailFrom.address,
        rcpt_to: session.envelope.rcptTo.map((r) => r.address),
        message_id: parsed.messageId ?? null,
        subject: parsed.subject ?? null,
        from: parsed.from?.text ?? null,
        to: parsed.to?.text ?? null,
        headers,
        text: parsed.text ?? null,
        html: parsed.html || null,
        raw: raw.toString("utf8"),
      });
      if (step === "drop") {
        for (const s of sockets) s.destroy();
        return;
      }
      if (step === "defer") {
        return callback(Object.assign(new Error("4.3.0 Try again later"), { responseCode: 451 }));
      }
      if (step === "reject-hard") {
        return callback(Object.assign(new Error("5.1.1 No such user"), { responseCode: 550 }));
      }
      if (step === "reject-soft") {
        return callback(Object.assign(new Error("5.2.2 Mailbox full"), { responseCode: 552 }));
      }
      callback(null, "2.0.0 Queued");
    });
  },
});
smtp.server.on("connection", (s) => {
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
});
smtp.on("error", () => {});

const writePort = (name, port) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file + ".tmp", String(port));
  fs.renameSync(file + ".tmp", file);
};

const control = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (req.url === "/_control" && req.method === "POST") {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (body.plan !== undefined) plan = body.plan;
      res.writeHead(204).end();
      return;
    }
    if (req.url === "/_received") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received));
      return;
    }
    res.writeHead(404).end();
  });
});

smtp.listen(0, "127.0.0.1", () => {
  control.listen(0, "127.0.0.1", () => {
    writePort("control.port", control.address().port);
    writePort("smtp.port", smtp.server.address().port);
  });
});
process.on("SIGTERM", () => smtp.close(() => control.close(() => process.exit(0))));
