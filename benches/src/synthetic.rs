//! A synthetic HAR in the pattern of the fixture app's shop flow, for the analyzer benches.
//!
//! Each "session" is ten entries recorded the way Chromium records them at capture level 3:
//! the login page (HTML with a hidden CSRF input, meta tags, an inline script), its
//! stylesheet, script and logo (base64), an analytics beacon, `POST /api/login` (token and
//! `Set-Cookie: session`), `GET /api/items` (a catalog page of realistic items),
//! `GET /api/items/{id}` (the detail with its offer), `POST /api/orders` and
//! `GET /api/orders/{uuid}`. Every session has its own CSRF value, token, session id,
//! offer and ids, so the value index and the graph see real variety. The output is
//! deterministic (a fixed pseudo-random sequence) and averages about 10 KB per entry, so
//! 10,000 entries make a HAR of about 100 MB.

use serde_json::{Value, json};

/// A small deterministic pseudo-random generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[(self.next() % A.len() as u64) as usize] as char)
            .collect()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-8{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

const WORDS: &[&str] = &[
    "brass", "lamp", "copper", "kettle", "pewter", "mug", "walnut", "shelf", "linen", "towel",
    "ceramic", "bowl", "oak", "table", "wool", "blanket", "steel", "pan", "glass", "vase",
    "leather", "bag", "cotton", "shirt", "bamboo", "tray", "marble", "board", "silver", "spoon",
    "iron", "skillet", "clay", "pot", "hand", "made", "polished", "vintage", "sturdy", "light",
    "warm", "bright", "classic", "modern",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

fn iso(ms: u64) -> String {
    // Review dates reach weeks back from the session time, so this must handle any date.
    let ts = jiff::Timestamp::from_millisecond(ms as i64).expect("bench timestamps are in range");
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn nv(pairs: &[(&str, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
fn entry(
    t: u64,
    method: &str,
    url: &str,
    rtype: &str,
    mut req_headers: Vec<(&str, String)>,
    cookie: Option<&str>,
    post: Option<(&str, String)>,
    status: u16,
    mime: &str,
    mut resp_headers: Vec<(&str, String)>,
    body: Option<(String, bool)>,
) -> Value {
    let mut base: Vec<(&str, String)> = vec![
        ("Host", "shop.example.test".into()),
        ("Connection", "keep-alive".into()),
        (
            "sec-ch-ua",
            "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"".into(),
        ),
        ("sec-ch-ua-mobile", "?0".into()),
        ("sec-ch-ua-platform", "\"Linux\"".into()),
        ("User-Agent", UA.into()),
        ("Accept-Encoding", "gzip, deflate, br, zstd".into()),
        ("Accept-Language", "en-US,en;q=0.9".into()),
        ("Referer", "https://shop.example.test/shop/".into()),
    ];
    base.append(&mut req_headers);
    let mut cookies = Vec::new();
    if let Some(c) = cookie {
        base.push((
            "Cookie",
            format!("session={c}; _ga=GA1.1.1234567.1714550000"),
        ));
        cookies.push(json!({"name": "session", "value": c}));
        cookies.push(json!({"name": "_ga", "value": "GA1.1.1234567.1714550000"}));
    }
    let mut resp: Vec<(&str, String)> = vec![
        ("content-type", mime.to_string()),
        ("date", "Wed, 01 May 2024 10:00:00 GMT".into()),
        ("server", "spool-fixture".into()),
        ("cache-control", "no-cache".into()),
    ];
    resp.append(&mut resp_headers);
    let set_cookies: Vec<Value> = resp
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| {
            let first = v.split(';').next()?;
            let (k, val) = first.split_once('=')?;
            Some(json!({"name": k, "value": val, "path": "/", "httpOnly": true}))
        })
        .collect();
    let size = body.as_ref().map(|b| b.0.len()).unwrap_or(0);
    let mut content = json!({"size": size, "mimeType": mime});
    if let Some((text, b64)) = body {
        content["text"] = Value::String(text);
        if b64 {
            content["encoding"] = json!("base64");
        }
    }
    let mut e = json!({
        "startedDateTime": iso(t),
        "time": 18.5,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": nv(&base),
            "queryString": [],
            "cookies": cookies,
            "headersSize": -1,
            "bodySize": post.as_ref().map(|p| p.1.len()).unwrap_or(0),
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": nv(&resp),
            "cookies": set_cookies,
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": size,
        },
        "cache": {},
        "timings": {"blocked": 0.4, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1, "wait": 16.0, "receive": 2.0},
        "_resourceType": rtype,
        "_initiator": {"type": if rtype == "document" { "other" } else if rtype == "fetch" { "script" } else { "parser" }},
        "_priority": "High",
        "pageref": "page_1",
    });
    if let Some((m, text)) = post {
        e["request"]["postData"] = json!({"mimeType": m, "text": text});
    }
    e
}

fn filler_css(rng: &mut Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 64);
    while s.len() < bytes {
        let n = rng.below(1000);
        s.push_str(&format!(
            ".c{n} {{ color: #{}; margin: {}px {}px; font-family: \"{}\", sans-serif; }}\n",
            rng.hex(6),
            rng.below(40),
            rng.below(40),
            sentence(rng, 2)
        ));
    }
    s
}

fn filler_js(rng: &mut Rng, bytes: usize) -> String {
    let mut s = String::from("(function(){'use strict';\n");
    while s.len() < bytes {
        s.push_str(&format!(
            "  function f{}(a, b) {{ return fetch('/api/' + a, {{ method: 'GET', headers: {{ Accept: 'application/json' }} }}).then(r => r.json()).then(d => d.{} || b); }}\n",
            rng.below(100_000),
            sentence(rng, 1)
        ));
    }
    s.push_str("})();\n");
    s
}

fn filler_b64(rng: &mut Rng, bytes: usize) -> String {
    use base64::Engine;
    let raw: Vec<u8> = (0..bytes * 3 / 4)
        .map(|_| (rng.next() & 0xff) as u8)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// A synthetic HAR of `entries` entries (about 10 KB each), as JSON bytes.
pub fn synthetic_har(entries: usize) -> Vec<u8> {
    let mut rng = Rng(0x5EED_5000_0000_0001);
    let mut out: Vec<u8> = Vec::with_capacity(entries * 10_500 + 256);
    out.extend_from_slice(
        br#"{"log":{"version":"1.2","creator":{"name":"spool-benches synthetic","version":"1"},"pages":[{"startedDateTime":"2024-05-01T10:00:00.000Z","id":"page_1","title":"Spool Shop","pageTimings":{}}],"entries":["#,
    );
    let mut n = 0usize;
    let mut t: u64 = 1_714_557_600_000; // 2024-05-01T10:00:00Z
    let push = |e: Value, out: &mut Vec<u8>, n: &mut usize| {
        if *n > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, &e).expect("JSON");
        *n += 1;
    };
    let origin = "https://shop.example.test";
    while n < entries {
        let csrf = rng.hex(32);
        let token = rng.alnum(40);
        let session = rng.hex(32);
        // 1. The login page.
        let mut html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"build-id\" content=\"{}\"><title>Spool Shop: sign in</title><link rel=\"stylesheet\" href=\"/shop/shop.css\"><script>window.__SHOP__ = {{\"region\": \"eu-west\", \"release\": \"{}\"}};</script></head><body><header><h1>Spool Shop</h1></header><form id=\"login-form\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>Username <input name=\"username\"></label><label>Password <input name=\"password\" type=\"password\"></label></form>",
            rng.hex(12),
            rng.hex(8)
        );
        while html.len() < 12_000 {
            html.push_str(&format!(
                "<p class=\"promo\">{}</p>",
                sentence(&mut rng, 18)
            ));
        }
        html.push_str("</body></html>");
        let e = entry(
            t,
            "GET",
            &format!("{origin}/shop/"),
            "document",
            vec![("Accept", "text/html".into())],
            None,
            None,
            200,
            "text/html",
            vec![],
            Some((html, false)),
        );
        push(e, &mut out, &mut n);
        t += 40;
        // 2-4. Static assets.
        let css = filler_css(&mut rng, 12_000);
        push(
            entry(
                t,
                "GET",
                &format!("{origin}/shop/shop.css"),
                "stylesheet",
                vec![],
                None,
                None,
                200,
                "text/css",
                vec![],
                Some((css, false)),
            ),
            &mut out,
            &mut n,
        );
        t += 5;
        let js = filler_js(&mut rng, 12_000);
        push(
            entry(
                t,
                "GET",
                &format!("{origin}/shop/shop.js"),
                "script",
                vec![],
                None,
                None,
                200,
                "application/javascript",
                vec![],
                Some((js, false)),
            ),
            &mut out,
            &mut n,
        );
        t += 5;
        let png = filler_b64(&mut rng, 12_000);
        push(
            entry(
                t,
                "GET",
                &format!("{origin}/shop/logo.png"),
                "image",
                vec![],
                None,
                None,
                200,
                "image/png",
                vec![],
                Some((png, true)),
            ),
            &mut out,
            &mut n,
        );
        t += 5;
        // 5. Analytics.
        push(
            entry(
                t,
                "POST",
                &format!(
                    "https://www.google-analytics.com/g/collect?v=2&tid=G-SPOOL&cid={}",
                    rng.below(1 << 30)
                ),
                "ping",
                vec![],
                None,
                Some(("text/plain", String::new())),
                204,
                "text/plain",
                vec![],
                None,
            ),
            &mut out,
            &mut n,
        );
        t += 5;
        // 6. Login.
        let login_req =
            json!({"username": "alice", "password": "wonderland", "csrf": csrf}).to_string();
        let login_resp = json!({"token": token, "user": {"id": 7301, "name": "alice", "email": "alice@example.test", "roles": ["customer"]}}).to_string();
        push(
            entry(
                t,
                "POST",
                &format!("{origin}/api/login"),
                "fetch",
                vec![
                    ("Accept", "application/json".into()),
                    ("Content-Type", "application/json".into()),
                    ("Origin", origin.into()),
                ],
                None,
                Some(("application/json", login_req)),
                200,
                "application/json",
                vec![(
                    "set-cookie",
                    format!("session={session}; Path=/; HttpOnly; SameSite=Lax"),
                )],
                Some((login_resp, false)),
            ),
            &mut out,
            &mut n,
        );
        t += 30;
        // 7. The catalog.
        let auth = [
            ("Accept", "application/json".to_string()),
            ("Authorization", format!("Bearer {token}")),
        ];
        let mut items = Vec::new();
        let mut size = 0;
        while size < 11_500 {
            let id = 10_000 + rng.below(89_999);
            let it = json!({
                "id": id,
                "sku": format!("SKU-{}", rng.hex(10)),
                "name": sentence(&mut rng, 3),
                "price": rng.below(20_000),
                "currency": "EUR",
                "description": sentence(&mut rng, 14),
                "image": format!("/img/{id}.png"),
                "tags": [WORDS[rng.below(WORDS.len() as u64) as usize], WORDS[rng.below(WORDS.len() as u64) as usize]],
                "rating": (rng.below(50) as f64) / 10.0,
            });
            size += it.to_string().len();
            items.push(it);
        }
        let first = items[0]["id"].as_u64().unwrap_or(40712);
        let list = json!({"items": items, "page": 1, "next": format!("/api/items?cursor={}", rng.hex(16))}).to_string();
        push(
            entry(
                t,
                "GET",
                &format!("{origin}/api/items"),
                "fetch",
                auth.iter().map(|(k, v)| (*k, v.clone())).collect(),
                Some(&session),
                None,
                200,
                "application/json",
                vec![],
                Some((list, false)),
            ),
            &mut out,
            &mut n,
        );
        t += 30;
        // 8. The detail.
        let offer = format!("off_{}", rng.hex(16));
        let mut reviews = Vec::new();
        let mut size = 0;
        while size < 11_000 {
            let r = json!({"author": sentence(&mut rng, 2), "stars": rng.below(5) + 1, "text": sentence(&mut rng, 20), "at": iso(t - rng.below(1_000_000_000))});
            size += r.to_string().len();
            reviews.push(r);
        }
        let detail = json!({"id": first, "name": sentence(&mut rng, 3), "price": rng.below(20_000), "stock": 12, "offer": offer, "reviews": reviews}).to_string();
        push(
            entry(
                t,
                "GET",
                &format!("{origin}/api/items/{first}"),
                "fetch",
                auth.iter().map(|(k, v)| (*k, v.clone())).collect(),
                Some(&session),
                None,
                200,
                "application/json",
                vec![],
                Some((detail, false)),
            ),
            &mut out,
            &mut n,
        );
        t += 30;
        // 9. The order.
        let order_id = rng.uuid();
        let order_req =
            json!({"itemId": first, "offer": offer, "quantity": 1, "csrf": csrf}).to_string();
        let mut lines = Vec::new();
        for _ in 0..80 {
            lines.push(json!({"line": sentence(&mut rng, 6), "amount": rng.below(10_000)}));
        }
        let order_resp =
            json!({"orderId": order_id, "status": "confirmed", "itemId": first, "receipt": lines})
                .to_string();
        let mut h: Vec<(&str, String)> = auth.iter().map(|(k, v)| (*k, v.clone())).collect();
        h.push(("Content-Type", "application/json".into()));
        push(
            entry(
                t,
                "POST",
                &format!("{origin}/api/orders"),
                "fetch",
                h,
                Some(&session),
                Some(("application/json", order_req)),
                201,
                "application/json",
                vec![],
                Some((order_resp, false)),
            ),
            &mut out,
            &mut n,
        );
        t += 30;
        // 10. The order's page.
        let mut summary = json!({"orderId": order_id, "status": "confirmed", "tracking": rng.alnum(18), "history": []});
        let mut hist = Vec::new();
        for _ in 0..110 {
            hist.push(json!({"at": iso(t), "event": sentence(&mut rng, 8)}));
        }
        summary["history"] = Value::Array(hist);
        push(
            entry(
                t,
                "GET",
                &format!("{origin}/api/orders/{order_id}"),
                "fetch",
                auth.iter().map(|(k, v)| (*k, v.clone())).collect(),
                Some(&session),
                None,
                200,
                "application/json",
                vec![],
                Some((summary.to_string(), false)),
            ),
            &mut out,
            &mut n,
        );
        t += 1_000;
    }
    out.extend_from_slice(b"]}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_har_of_the_asked_size() {
        let bytes = synthetic_har(25);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let entries = v["log"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 30, "whole sessions of ten");
        let per_entry = bytes.len() / entries.len();
        assert!(
            (8_000..14_000).contains(&per_entry),
            "{per_entry} bytes per entry"
        );
        assert_eq!(synthetic_har(25), bytes, "deterministic");
    }
}
