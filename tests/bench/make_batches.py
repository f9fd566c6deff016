"""Signed referral batches for the benchmark: COUNT batches of SIZE new referrals each, signed
as Standard Webhooks with SECRET at the current time, one per line (id, timestamp, signature,
body; tab-separated).   make_batches.py SECRET COUNT SIZE RUN > FILE"""
import base64, hashlib, hmac, json, sys, time

secret, count, size, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
key = base64.b64decode(secret[len("whsec_"):])
now = str(int(time.time()))
out = sys.stdout
for b in range(count):
    body = json.dumps({"referrals": [
        {"external_id": f"{run}-{b}-{i}", "email": f"ref-{run}-{b}-{i}@example.it",
         "first_name": "Bench", "company": "Rossi Carrelli Srl", "consent_marketing": True}
        for i in range(size)]}, separators=(",", ":"))
    msg_id = f"msg_{run}_{b}"
    mac = hmac.new(key, f"{msg_id}.{now}.{body}".encode(), hashlib.sha256).digest()
    out.write(f"{msg_id}\t{now}\tv1,{base64.b64encode(mac).decode()}\t{body}\n")
