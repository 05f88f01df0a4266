//! Listing, filtering, paging, deleting, totals, and bad parameters.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::*;
use spool_store::{
    ExportOptions, SessionEnd, SessionQuery, SessionStatus, Store, Uuid, parse_date_bound,
};

fn query() -> SessionQuery {
    SessionQuery::default()
}

#[test]
fn list_is_newest_first_filtered_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tasks = [
        "Log in to Gmail",
        "Check the Gmail inbox",
        "Buy a book",
        "Search flights",
        "gmail: compose email",
    ];
    let mut ids = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let w = store.begin_session(new_session(t)).unwrap();
        ids.push(w.id());
        let end = if i == 2 {
            SessionEnd::error("boom")
        } else {
            SessionEnd::completed()
        };
        w.finish(end).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let all = store.list(&query()).unwrap();
    assert_eq!(all.total, 5);
    let listed: Vec<Uuid> = all.sessions.iter().map(|m| m.session_id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);

    // Words, case-insensitive, all must match.
    let gmail = store
        .list(&SessionQuery {
            words: Some("GMAIL".into()),
            ..query()
        })
        .unwrap();
    assert_eq!(gmail.total, 3);
    let inbox = store
        .list(&SessionQuery {
            words: Some("gmail inbox".into()),
            ..query()
        })
        .unwrap();
    assert_eq!(inbox.total, 1);
    assert_eq!(inbox.sessions[0].session_id, ids[1]);

    // Status.
    let errors = store
        .list(&SessionQuery {
            status: Some(SessionStatus::Error),
            ..query()
        })
        .unwrap();
    assert_eq!(errors.total, 1);
    assert_eq!(errors.sessions[0].session_id, ids[2]);

    // Paging.
    let p = store
        .list(&SessionQuery {
            limit: 2,
            offset: 1,
            ..query()
        })
        .unwrap();
    assert_eq!(p.total, 5);
    assert_eq!(
        p.sessions.iter().map(|m| m.session_id).collect::<Vec<_>>(),
        newest_first[1..3]
    );
    let past = store
        .list(&SessionQuery {
            offset: 10,
            ..query()
        })
        .unwrap();
    assert_eq!((past.total, past.sessions.len()), (5, 0));

    // Date range, inclusive on both ends.
    let m2 = store.metadata(ids[1]).unwrap();
    let m3 = store.metadata(ids[3]).unwrap();
    let range = store
        .list(&SessionQuery {
            from: Some(m2.start_time),
            to: Some(m3.start_time),
            ..query()
        })
        .unwrap();
    assert_eq!(
        range
            .sessions
            .iter()
            .map(|m| m.session_id)
            .collect::<Vec<_>>(),
        vec![ids[3], ids[2], ids[1]]
    );
    // Whole days, as the spec's dateRange writes them.
    let today = m2.start_time.to_string()[..10].to_string();
    let day = store
        .list(&SessionQuery {
            from: Some(parse_date_bound(&today, false).unwrap()),
            to: Some(parse_date_bound(&today, true).unwrap()),
            ..query()
        })
        .unwrap();
    assert!(day.total >= 1);
    let none = store
        .list(&SessionQuery {
            from: Some(parse_date_bound("2001-01-01", false).unwrap()),
            to: Some(parse_date_bound("2001-01-31", true).unwrap()),
            ..query()
        })
        .unwrap();
    assert_eq!(none.total, 0);
}

#[test]
fn out_of_range_parameters_are_invalid_params() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (limit, offset) in [(0, 0), (100_000, 0), (1001, 0), (10, 1_000_001)] {
        let e = store
            .list(&SessionQuery {
                limit,
                offset,
                ..query()
            })
            .unwrap_err();
        assert_eq!(e.code(), -32602, "{limit}/{offset}: {e}");
        assert!(
            e.to_string()
                .contains(if offset > 0 { "offset" } else { "limit" })
        );
    }
    assert!(
        store
            .list(&SessionQuery {
                limit: 1000,
                ..query()
            })
            .is_ok()
    );
    let e = parse_date_bound("yesterday", false).unwrap_err();
    assert_eq!(e.code(), -32602);
    assert!("done".parse::<SessionStatus>().is_err());
    assert_eq!(
        "completed".parse::<SessionStatus>().unwrap(),
        SessionStatus::Completed
    );
}

#[test]
fn unknown_ids_are_session_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let id = Uuid::new_v4();
    let opts = ExportOptions::default();
    for e in [
        store.get(id).map(|_| ()).unwrap_err(),
        store.metadata(id).map(|_| ()).unwrap_err(),
        store.delete(id).unwrap_err(),
        store.export_har(id, &opts).map(|_| ()).unwrap_err(),
        store.export_json(id, &opts).map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(e.code(), -32004, "{e}");
        assert!(e.to_string().contains(&id.to_string()));
    }
}

#[test]
fn delete_removes_every_key_and_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut keep = store.begin_session(new_session("keep")).unwrap();
    keep.append_entries(&[entry(1)]).unwrap();
    let keep_id = keep.id();
    keep.finish(SessionEnd::completed()).unwrap();

    let mut w = store.begin_session(new_session("delete me")).unwrap();
    for i in 0..20 {
        w.append_entries(&[entry(i)]).unwrap();
        w.append_console(&[console(i)]).unwrap();
    }
    w.append_screenshot(&screenshot(1)).unwrap();
    let id = w.id();
    // Still recording: refused.
    assert_eq!(store.delete(id).unwrap_err().code(), -32602);
    w.finish(SessionEnd::completed()).unwrap();

    let before = store.stats().unwrap();
    assert_eq!(before.sessions, 2);
    assert!(store.debug_key_count(id).unwrap() > 40);
    store.delete(id).unwrap();
    assert_eq!(store.debug_key_count(id).unwrap(), 0);
    let after = store.stats().unwrap();
    assert_eq!(after.sessions, 1);
    assert!(after.stored_bytes < before.stored_bytes);
    assert_eq!(store.get(id).unwrap_err().code(), -32004);
    assert_eq!(store.delete(id).unwrap_err().code(), -32004);
    assert_eq!(store.list(&query()).unwrap().total, 1);
    assert_eq!(store.get(keep_id).unwrap().entries, vec![entry(1)]);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.debug_key_count(id).unwrap(), 0);
    assert_eq!(store.list(&query()).unwrap().total, 1);
}

#[test]
fn stats_total_sessions_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.stats().unwrap().sessions, 0);
    let mut w = store.begin_session(new_session("stats")).unwrap();
    let entries: Vec<_> = (0..200).map(entry).collect();
    w.append_entries(&entries).unwrap();
    w.append_screenshot(&screenshot(0)).unwrap();
    w.finish(SessionEnd::completed()).unwrap();
    let s = store.stats().unwrap();
    assert_eq!(s.sessions, 1);
    assert_eq!(s.by_status.get(&SessionStatus::Completed), Some(&1));
    assert_eq!(s.network_entries, 200);
    assert_eq!(s.screenshots, 1);
    assert!(s.raw_bytes > s.stored_bytes);
    assert!(s.compression_ratio > 3.0, "{}", s.compression_ratio);
    assert!(s.disk_bytes > 0);
    let v = serde_json::to_value(&s).unwrap();
    assert!(v.get("compressionRatio").is_some());
}

#[test]
fn default_dir_follows_spool_data() {
    // Only reads the environment; other tests never set SPOOL_DATA.
    let d = Store::default_dir();
    match std::env::var_os("SPOOL_DATA") {
        Some(v) if !v.is_empty() => assert_eq!(d, std::path::PathBuf::from(v)),
        _ => assert!(d.ends_with("spool"), "{}", d.display()),
    }
}
