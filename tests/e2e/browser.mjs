// Drives Debian's chromium (headless) with playwright-core through the example landing page
// of deploy/examples/landing, served here on 127.0.0.1 as an operator would serve a copy of it
// (its ciclod address changed to the daemon under test). A second server on another origin
// plays a hostile page that posts to the same form. Prints what the browser saw as JSON; the
// calling test checks the leads in ciclod.
//   node browser.mjs DAEMON_URL ADMIN_KEY LANDING_DIR
import { chromium } from "playwright-core";
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";

const [daemon, adminKey, landingDir] = process.argv.slice(2);

function serve(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, origin: `http://127.0.0.1:${server.address().port}` }));
  });
}

// The landing page's files, with the ciclod address in them pointed at the daemon.
const landing = await serve(async (req, res) => {
  const name = new URL(req.url, "http://x").pathname.slice(1) || "index.html";
  if (!/^[a-z]+\.html$/.test(name)) return res.writeHead(404).end();
  try {
    const page = (await readFile(path.join(landingDir, name), "utf8"))
      .replaceAll("http://127.0.0.1:8080", daemon);
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
  } catch {
    res.writeHead(404).end();
  }
});

// A page on an origin the form does not allow, posting to it as a form and with fetch.
const hostile = await serve((req, res) => {
  const action = `${daemon}/v1/forms/landing/submissions`;
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(`<!doctype html>
<form id="f" method="post" action="${action}">
  <input name="email" value="hostile-form@evil.example.com"><input name="nome" value="Mallory">
</form>
<script>
  fetch(${JSON.stringify(action)}, { method: "POST", mode: "no-cors",
    body: new URLSearchParams({ email: "hostile-fetch@evil.example.com", nome: "Mallory" }) });
</script>`);
});

// The landing form, made through the admin API for the origin the page is served on.
const created = await fetch(`${daemon}/v1/forms`, {
  method: "POST",
  headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" },
  body: JSON.stringify({
    key: "landing",
    name: "Demo request",
    fields: { nome: "first_name", cognome: "last_name", azienda: "company", telefono: "phone",
              messaggio: "message" },
    required: ["email", "first_name"],
    allowed_origins: [landing.origin],
    thank_you_url: `${landing.origin}/grazie.html`,
    error_url: `${landing.origin}/errore.html`,
    honeypot: "fax",
    min_fill_seconds: 1,
    rate_limit: { per_minute: 600, burst: 50 },
    consent_text: "Sì, voglio ricevere notizie e offerte via email.",
    campaign: "demo-request",
  }),
});
if (created.status !== 201) throw new Error(`form not created: ${created.status} ${await created.text()}`);

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const result = { landing: landing.origin };

async function fill(page, values) {
  for (const [name, value] of Object.entries(values)) {
    await page.fill(`[name=${name}]`, value);
  }
  await page.check("[name=consent_marketing]");
  await page.waitForTimeout(1200);  // a person takes longer than the form's minimum fill time
}

// Script on: embed.js submits with fetch and goes to the thank-you page.
{
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${landing.origin}/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=autunno`);
  await page.waitForSelector("[name=submission_id]", { state: "attached" });
  await fill(page, { email: "js-on@example.com", nome: "Ada", cognome: "Lovelace",
                     azienda: "Analytical", messaggio: "Una demo, grazie" });
  await Promise.all([page.waitForURL("**/grazie.html"), page.click("button[type=submit]")]);
  result.scriptOn = { url: page.url(), heading: await page.textContent("h1") };

  // A value ciclod refuses: the error is shown next to its field and the page stays.
  await page.goto(`${landing.origin}/index.html`);
  await page.waitForSelector("[name=submission_id]", { state: "attached" });
  await fill(page, { email: "wrong-phone@example.com", nome: "Bob", telefono: "12" });
  await page.click("button[type=submit]");
  const note = await page.waitForSelector("[name=telefono] + .ciclo-error");
  result.inlineError = {
    url: page.url(),
    message: await note.textContent(),
    ariaInvalid: await page.getAttribute("[name=telefono]", "aria-invalid"),
  };
  await context.close();
}

// Script off: the browser posts the form itself and follows ciclod's 303.
{
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${landing.origin}/index.html?utm_source=partner-site&utm_campaign=senza-js`);
  await fill(page, { email: "js-off@example.com", nome: "Carla", azienda: "Senza JS" });
  await Promise.all([page.waitForURL("**/grazie.html"), page.click("button[type=submit]")]);
  result.scriptOff = { url: page.url(), heading: await page.textContent("h1") };

  await page.goto(`${landing.origin}/index.html`);
  await fill(page, { email: "js-off-wrong@example.com", nome: "Dario", telefono: "12" });
  await Promise.all([page.waitForURL("**/errore.html?**"), page.click("button[type=submit]")]);
  result.scriptOffError = { url: page.url() };
  await context.close();
}

// The hostile page: its posts reach ciclod (CORS does not stop them) and are refused.
{
  const context = await browser.newContext();
  const page = await context.newPage();
  const answers = [];
  page.on("response", (r) => {
    if (r.url().endsWith("/v1/forms/landing/submissions")) answers.push(r.status());
  });
  const fetched = page.waitForResponse((r) => r.url().endsWith("/v1/forms/landing/submissions"));
  await page.goto(`${hostile.origin}/`);
  await fetched;
  await Promise.all([page.waitForNavigation(), page.evaluate(() => document.getElementById("f").submit())]);
  result.hostile = { origin: hostile.origin, statuses: answers, body: await page.textContent("body") };
  await context.close();
}

await browser.close();
landing.server.close();
hostile.server.close();
process.stdout.write(JSON.stringify(result));
