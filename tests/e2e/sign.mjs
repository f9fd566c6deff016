// Signs a body as a partner's sender would, with a third-party Standard Webhooks library
// (not Ciclo's code), and prints the webhook-signature header's value.
//   node sign.mjs standardwebhooks|svix SECRET MSG_ID UNIX_SECONDS BODY_FILE
import fs from "node:fs";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";

const [library, secret, id, seconds, file] = process.argv.slice(2);
const body = fs.readFileSync(file, "utf8");
const signer = library === "svix" ? new SvixWebhook(secret) : new StandardWebhook(secret);
process.stdout.write(signer.sign(id, new Date(Number(seconds) * 1000), body));
