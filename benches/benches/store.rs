//! Store benches: compression ratio, append throughput while recording, load time of a
//! session built from a 10 MB HAR, and list latency with 10,000 stored sessions.
//!
//! Run: `cargo bench -p spool-benches --bench store`. The compression ratios are printed
//! (they are not timings); criterion reports the rest.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use spool_store::har::{self, Entry, Har, Header};
use spool_store::{
    BrowserInfo, CaptureLevel, NewSession, SessionEnd, SessionQuery, SessionStatus, Store,
};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// xorshift64*: deterministic content.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap())
            .collect()
    }
    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len())]
    }
    fn words(&mut self, n: usize) -> String {
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

const WORDS: &[&str] = &[
    "shop",
    "cart",
    "order",
    "item",
    "price",
    "user",
    "account",
    "login",
    "search",
    "filter",
    "blue",
    "red",
    "green",
    "small",
    "large",
    "cotton",
    "leather",
    "shoe",
    "shirt",
    "jacket",
    "delivery",
    "return",
    "review",
    "rating",
    "stock",
    "warehouse",
    "discount",
    "coupon",
    "payment",
    "card",
    "address",
    "city",
    "street",
    "country",
    "phone",
    "email",
    "name",
    "product",
    "brand",
    "category",
    "sale",
    "new",
    "popular",
    "best",
    "free",
    "shipping",
    "week",
    "day",
    "month",
    "year",
    "today",
    "open",
    "close",
    "size",
    "color",
    "weight",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "for",
    "with",
    "on",
    "by",
    "from",
    "your",
    "our",
    "more",
    "less",
    "view",
    "details",
    "add",
    "remove",
    "update",
    "save",
    "cancel",
    "next",
];

fn req_headers(rng: &mut Rng, host: &str) -> Vec<Header> {
    vec![
        Header::new(":authority", host),
        Header::new(":method", "GET"),
        Header::new(":scheme", "https"),
        Header::new("accept", "application/json, text/plain, */*"),
        Header::new("accept-encoding", "gzip, deflate, br, zstd"),
        Header::new("accept-language", "en-US,en;q=0.9"),
        Header::new(
            "cookie",
            format!(
                "sid={}; _ga=GA1.1.{}.{}; cart={}",
                rng.hex(32),
                rng.below(1 << 30),
                rng.below(1 << 30),
                rng.hex(16)
            ),
        ),
        Header::new("referer", format!("https://{host}/")),
        Header::new(
            "sec-ch-ua",
            "\"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"",
        ),
        Header::new("sec-ch-ua-mobile", "?0"),
        Header::new("sec-ch-ua-platform", "\"Linux\""),
        Header::new("sec-fetch-dest", "empty"),
        Header::new("sec-fetch-mode", "cors"),
        Header::new("sec-fetch-site", "same-origin"),
        Header::new(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        ),
    ]
}

fn resp_headers(rng: &mut Rng, mime: &str, len: usize) -> Vec<Header> {
    vec![
        Header::new("content-type", mime),
        Header::new("content-length", len.to_string()),
        Header::new(
            "date",
            format!(
                "Tue, 14 May 2024 09:{:02}:{:02} GMT",
                rng.below(60),
                rng.below(60)
            ),
        ),
        Header::new("etag", format!("W/\"{}\"", rng.hex(24))),
        Header::new("cache-control", "private, max-age=0, must-revalidate"),
        Header::new("server", "nginx/1.25.3"),
        Header::new(
            "strict-transport-security",
            "max-age=63072000; includeSubDomains; preload",
        ),
        Header::new("x-request-id", rng.hex(32)),
        Header::new("x-content-type-options", "nosniff"),
        Header::new("vary", "Accept-Encoding, Origin"),
    ]
}

fn body_json(rng: &mut Rng, page: usize) -> String {
    let items: Vec<_> = (0..20)
        .map(|_| {
            json!({
                "id": format!("{}-{}-{}-{}-{}", rng.hex(8), rng.hex(4), rng.hex(4), rng.hex(4), rng.hex(12)),
                "name": rng.words(3),
                "description": rng.words(12),
                "price": (rng.below(100_000) as f64) / 100.0,
                "currency": "EUR",
                "inStock": rng.below(2) == 0,
                "tags": [rng.word(), rng.word()],
                "rating": {"average": rng.below(50) as f64 / 10.0, "count": rng.below(5000)},
                "seller": {"id": rng.below(10_000), "name": rng.words(2)},
                "createdAt": format!("2024-0{}-{:02}T{:02}:{:02}:00Z", 1 + rng.below(9), 1 + rng.below(28), rng.below(24), rng.below(60)),
                "image": format!("https://cdn.shop.test/img/{}.webp", rng.hex(20)),
            })
        })
        .collect();
    json!({"items": items, "page": page, "pageSize": 20, "total": rng.below(100_000)}).to_string()
}

fn body_html(rng: &mut Rng) -> String {
    let mut s = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><header class=\"site-header\"><nav><a href=\"/\">Home</a><a href=\"/cart\">Cart</a><a href=\"/account\">Account</a></nav></header><main><ul class=\"product-grid\">",
    );
    for _ in 0..60 {
        s.push_str(&format!("<li class=\"product-card\" data-id=\"{}\"><a href=\"/p/{}\"><img src=\"https://cdn.shop.test/img/{}.webp\" alt=\"{}\" loading=\"lazy\"><h3>{}</h3><span class=\"price\">{}.{:02} €</span></a></li>", rng.hex(12), rng.hex(12), rng.hex(20), rng.words(3), rng.words(4), rng.below(500), rng.below(100)));
    }
    s.push_str("</ul></main><script src=\"/static/app.js\" defer></script></body></html>");
    s
}

fn body_js(rng: &mut Rng, n: usize) -> String {
    let mut s = String::from(
        "\"use strict\";(self.webpackChunkshop=self.webpackChunkshop||[]).push([[179],{",
    );
    for i in 0..n {
        let f = format!("_{}", rng.hex(4));
        s.push_str(&format!(
            "{i}:function(e,t,n){{var r=n({}),o=n({});function {f}(e,t){{if(!e||!e.{})return null;var n=Object.assign({{}},t,{{{}:e.{}}});return r.default.{}(n).then(function(e){{return e.json()}}).catch(function(e){{console.error(\"{}\",e)}})}}t.{}={f};t.{}=function(e){{return o.{}(e,\"{}\")}}}},",
            rng.below(9999), rng.below(9999), rng.word(), rng.word(), rng.word(), rng.word(), rng.words(3), rng.word(), rng.word(), rng.word(), rng.word()
        ));
    }
    s.push_str("}]);");
    s
}

fn body_css(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(&format!(
            ".{}-{}{{display:flex;margin:{}px {}px;padding:{}px;color:#{};background:#{};font-size:{}rem}}\n",
            rng.word(), rng.hex(4), rng.below(32), rng.below(32), rng.below(16), rng.hex(6), rng.hex(6), rng.below(4) + 1
        ));
    }
    s
}

/// A HAR of about `target` bytes shaped like a level-3 capture of a shop: API JSON, pages,
/// scripts, styles and images (base64 of incompressible bytes, ~`image_share` of the size).
fn synth_har(target: usize, seed: u64) -> Har {
    let mut rng = Rng(seed | 1);
    let mut har = Har::new_spool();
    har.log.pages.push(har::Page {
        started_date_time: "2024-05-14T09:21:00.000Z".into(),
        id: "page_1".into(),
        title: "https://shop.test/".into(),
        ..Default::default()
    });
    let mut size = 0;
    let mut i = 0;
    while size < target {
        let kind = rng.below(20);
        let host = if kind < 10 {
            "api.shop.test"
        } else {
            "shop.test"
        };
        let (url, mime, text, encoding) = match kind {
            0..=9 => (
                format!("https://{host}/v1/items?page={i}&sort=price"),
                "application/json",
                body_json(&mut rng, i),
                None,
            ),
            10 => (
                format!("https://{host}/c/{}", rng.word()),
                "text/html; charset=utf-8",
                body_html(&mut rng),
                None,
            ),
            11 | 12 => (
                format!("https://{host}/static/chunk-{}.js", rng.hex(8)),
                "application/javascript",
                body_js(&mut rng, 150),
                None,
            ),
            13 => (
                format!("https://{host}/static/{}.css", rng.hex(8)),
                "text/css",
                body_css(&mut rng, 200),
                None,
            ),
            _ => {
                use base64::Engine as _;
                let n = 2_000 + rng.below(14_000);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                (
                    format!("https://cdn.shop.test/img/{}.webp", rng.hex(20)),
                    "image/webp",
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                    Some("base64".to_string()),
                )
            }
        };
        let len = text.len();
        let mut e = Entry {
            pageref: Some("page_1".into()),
            started_date_time: format!(
                "2024-05-14T09:{:02}:{:02}.{:03}Z",
                21 + i / 6000,
                (i / 100) % 60,
                i % 1000
            ),
            time: rng.below(300) as f64 + 0.5,
            request: har::Request {
                method: "GET".into(),
                url,
                http_version: "h2".into(),
                headers: req_headers(&mut rng, host),
                headers_size: -1,
                body_size: 0,
                ..Default::default()
            },
            response: har::Response {
                status: 200,
                http_version: "h2".into(),
                headers: resp_headers(&mut rng, mime, len),
                content: har::Content {
                    size: len as i64,
                    mime_type: mime.into(),
                    text: Some(text),
                    encoding,
                    ..Default::default()
                },
                headers_size: -1,
                body_size: len as i64,
                ..Default::default()
            },
            server_ip_address: Some("203.0.113.10".into()),
            connection: Some(format!("{}", 100 + rng.below(10))),
            ..Default::default()
        };
        e.custom.insert(
            "_resourceType".into(),
            json!(if kind < 10 { "fetch" } else { "other" }),
        );
        e.custom.insert("_priority".into(), json!("High"));
        e.custom.insert("_transferSize".into(), json!(len / 3));
        e.timings.wait = rng.below(200) as f64;
        e.timings.receive = rng.below(20) as f64;
        size += serde_json::to_vec(&e).unwrap().len();
        har.log.entries.push(e);
        i += 1;
    }
    har
}

fn new_session(task: &str) -> NewSession {
    NewSession {
        id: None,
        task_description: task.into(),
        capture_level: CaptureLevel::Full,
        browser: BrowserInfo::default(),
        start_url: None,
    }
}

fn ratio_report() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    println!(
        "\n== store: compression (raw = compact JSON of the streams; file = the HAR file as given)"
    );
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "HAR", "file B", "raw B", "stored B", "raw/st", "file/st"
    );
    let mut tot = (0u64, 0u64, 0u64);
    for p in spool_fixtures::har_files() {
        let bytes = std::fs::read(&p).unwrap();
        let id = store.import_har(&bytes, None).unwrap();
        let m = store.metadata(id).unwrap();
        let name = p
            .strip_prefix(workspace_root())
            .unwrap()
            .display()
            .to_string();
        println!(
            "{:<48} {:>10} {:>10} {:>10} {:>8.1} {:>8.1}",
            name,
            bytes.len(),
            m.raw_bytes,
            m.stored_bytes,
            m.raw_bytes as f64 / m.stored_bytes as f64,
            bytes.len() as f64 / m.stored_bytes as f64
        );
        tot.0 += bytes.len() as u64;
        tot.1 += m.raw_bytes;
        tot.2 += m.stored_bytes;
    }
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>8.1} {:>8.1}",
        "all fixture HARs",
        tot.0,
        tot.1,
        tot.2,
        tot.1 as f64 / tot.2 as f64,
        tot.0 as f64 / tot.2 as f64
    );
    let big = synth_har(10 << 20, 7);
    let bytes = serde_json::to_vec_pretty(&big).unwrap();
    let id = store.import_har(&bytes, None).unwrap();
    let m = store.metadata(id).unwrap();
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>8.1} {:>8.1}",
        format!("synthetic shop capture ({} entries)", big.log.entries.len()),
        bytes.len(),
        m.raw_bytes,
        m.stored_bytes,
        m.raw_bytes as f64 / m.stored_bytes as f64,
        bytes.len() as f64 / m.stored_bytes as f64
    );
    // Same capture without images (base64 of already-compressed bytes).
    let mut text_only = big.clone();
    text_only
        .log
        .entries
        .retain(|e| e.response.content.encoding.is_none());
    let bytes = serde_json::to_vec_pretty(&text_only).unwrap();
    let id = store.import_har(&bytes, None).unwrap();
    let m = store.metadata(id).unwrap();
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>8.1} {:>8.1}",
        "  the same without images",
        bytes.len(),
        m.raw_bytes,
        m.stored_bytes,
        m.raw_bytes as f64 / m.stored_bytes as f64,
        bytes.len() as f64 / m.stored_bytes as f64
    );
    // Recording-shaped: the same fixture entries appended a few at a time (small chunks).
    let mut w = store.begin_session(new_session("small chunks")).unwrap();
    for p in spool_fixtures::har_files() {
        let har = Har::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        for c in har.log.entries.chunks(4) {
            w.append_entries(c).unwrap();
        }
    }
    let m = w.finish(SessionEnd::completed()).unwrap();
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>8.1}",
        "fixture entries appended 4 per chunk",
        "-",
        m.raw_bytes,
        m.stored_bytes,
        m.raw_bytes as f64 / m.stored_bytes as f64
    );
}

fn bench_append(c: &mut Criterion) {
    ratio_report();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let har = synth_har(4 << 20, 11);
    let mut g = c.benchmark_group("store/append");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    for per_chunk in [1usize, 20, 200] {
        let chunks: Vec<&[Entry]> = har.log.entries.chunks(per_chunk).collect();
        let avg = serde_json::to_vec(&har.log.entries).unwrap().len() / chunks.len();
        g.throughput(Throughput::Bytes(avg as u64));
        let mut w = store.begin_session(new_session("append bench")).unwrap();
        let mut k = 0;
        g.bench_with_input(
            BenchmarkId::new("entries_per_chunk", per_chunk),
            &per_chunk,
            |b, _| {
                b.iter(|| {
                    w.append_entries(black_box(chunks[k % chunks.len()]))
                        .unwrap();
                    k += 1;
                })
            },
        );
        w.finish(SessionEnd::completed()).unwrap();
    }
    g.finish();
}

fn bench_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let bytes = serde_json::to_vec(&synth_har(10 << 20, 13)).unwrap();
    let t = Instant::now();
    let id = store.import_har(&bytes, None).unwrap();
    println!(
        "\n== store: import of a {} byte HAR took {:?}",
        bytes.len(),
        t.elapsed()
    );
    let mut g = c.benchmark_group("store/load");
    g.sample_size(30);
    g.bench_function("get_10MB_har_session", |b| {
        b.iter(|| black_box(store.get(id).unwrap()))
    });
    g.bench_function("export_har_10MB_redacted", |b| {
        b.iter(|| black_box(store.export_har(id, &Default::default()).unwrap()))
    });
    g.finish();
}

fn bench_list(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = Instant::now();
    let mut rng = Rng(99);
    for i in 0..10_000 {
        let task = format!("{} {} {} task {i}", rng.word(), rng.word(), rng.word());
        let w = store.begin_session(new_session(&task)).unwrap();
        let end = if i % 10 == 0 {
            SessionEnd::stopped()
        } else {
            SessionEnd::completed()
        };
        w.finish(end).unwrap();
    }
    println!("\n== store: wrote 10,000 sessions in {:?}", t.elapsed());
    let mut g = c.benchmark_group("store/list_10k");
    g.bench_function("page_of_50", |b| {
        b.iter(|| black_box(store.list(&SessionQuery::default()).unwrap()))
    });
    g.bench_function("page_of_50_offset_5000", |b| {
        let q = SessionQuery {
            offset: 5000,
            ..Default::default()
        };
        b.iter(|| black_box(store.list(&q).unwrap()))
    });
    g.bench_function("words_filter", |b| {
        let q = SessionQuery {
            words: Some("shop cart".into()),
            ..Default::default()
        };
        b.iter(|| black_box(store.list(&q).unwrap()))
    });
    g.bench_function("status_filter", |b| {
        let q = SessionQuery {
            status: Some(SessionStatus::Stopped),
            ..Default::default()
        };
        b.iter(|| black_box(store.list(&q).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench_append, bench_load, bench_list);
criterion_main!(benches);
