//! A session whose data is damaged on disk fails alone; the others still list and export.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::*;
use spool_store::{ExportOptions, SessionEnd, SessionQuery, Store};

#[test]
fn a_corrupted_chunk_damages_only_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    {
        let store = Store::open(dir.path()).unwrap();
        for t in 0..3 {
            let mut w = store
                .begin_session(new_session(&format!("task {t}")))
                .unwrap();
            for i in 0..4 {
                w.append_entries(&[entry(i)]).unwrap();
            }
            w.append_console(&[console(1)]).unwrap();
            ids.push(w.id());
            w.finish(SessionEnd::completed()).unwrap();
        }
        // Overwrite the second entries chunk of session 1 with garbage, through sled.
        let keys = store.debug_chunk_keys(ids[1]).unwrap();
        let victim = keys.iter().find(|k| k[16] == 2 && k[20] == 1).unwrap();
        store
            .debug_overwrite_chunk(victim, b"\x01\x01garbage garbage garbage garbage")
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let e = store.get(ids[1]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("session {} is damaged: entries chunk 1", ids[1])),
        "{e}"
    );
    assert_eq!(e.code(), spool_model::ErrorCode::StoreDamaged);
    let e = store
        .export_har(ids[1], &ExportOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("is damaged"), "{e}");
    // Its metadata and streams that are intact are still readable.
    assert_eq!(store.metadata(ids[1]).unwrap().network_event_count, 4);
    let j = store.export_json(
        ids[1],
        &ExportOptions {
            include_network: false,
            ..Default::default()
        },
    );
    assert_eq!(j.unwrap()["console"].as_array().unwrap().len(), 1);

    // The others list and export.
    let page = store.list(&SessionQuery::default()).unwrap();
    assert_eq!(page.total, 3);
    for id in [ids[0], ids[2]] {
        let har = store.export_har(id, &ExportOptions::default()).unwrap();
        assert_eq!(har.log.entries.len(), 4);
    }
    // A damaged session can be deleted.
    store.delete(ids[1]).unwrap();
    assert_eq!(store.list(&SessionQuery::default()).unwrap().total, 2);

    // A chunk with a flipped bit (not just garbage) is caught by the checksum too.
    let keys = store.debug_chunk_keys(ids[2]).unwrap();
    let mut v = store.debug_chunk_value(&keys[0]).unwrap();
    let last = v.len() - 1;
    v[last] ^= 1;
    store.debug_overwrite_chunk(&keys[0], &v).unwrap();
    let e = store.get(ids[2]).unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    assert_eq!(store.get(ids[0]).unwrap().entries.len(), 4);
}
