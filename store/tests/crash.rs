//! Real processes: a writer killed with SIGKILL at random points, and a second process
//! opening a store that is in use.
//!
//! The child is this test binary itself, re-executed with `SPOOL_STORE_CHILD` set, running
//! only the `child_process` test below (which does nothing in a normal run).

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::*;
use spool_model::CaptureSink;
use spool_store::{SessionEnd, SessionQuery, SessionStatus, Store, StoreWriter, Uuid};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SPOOL_STORE_CHILD";
const DIR_ENV: &str = "SPOOL_STORE_CHILD_DIR";
const SEED_ENV: &str = "SPOOL_STORE_CHILD_SEED";

/// A small deterministic PRNG (xorshift64*), so a failing trial can be replayed by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn spawn_child(mode: &str, dir: &Path, seed: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .env(SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The child's side. Lines it prints start with `SPOOL `; each is printed only after what it
/// reports is durable.
#[test]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::env::var(DIR_ENV).unwrap();
    let seed: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    match mode.as_str() {
        "writer" => writer(Path::new(&dir), seed),
        "writer_thread" => writer_thread(Path::new(&dir), seed),
        "open" => {
            let t = Instant::now();
            match Store::open(Path::new(&dir)) {
                Ok(_) => println!("SPOOL OPENED"),
                Err(e) => println!(
                    "SPOOL ERROR {} {} ms: {e}",
                    e.code(),
                    t.elapsed().as_millis()
                ),
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn writer(dir: &Path, seed: u64) {
    let mut rng = Rng(seed | 1);
    let store = Store::open(dir).unwrap();
    println!("SPOOL READY");
    loop {
        let mut w = store
            .begin_session(new_session(&format!("crash trial {seed}")))
            .unwrap();
        let id = w.id();
        println!("SPOOL BEGIN {id}");
        let (mut ne, mut nc, mut na, mut ns) = (0usize, 0usize, 0usize, 0usize);
        let appends = 1 + rng.below(25);
        for _ in 0..appends {
            match rng.below(5) {
                0 | 1 => {
                    let n = 1 + rng.below(6) as usize;
                    let batch: Vec<_> = (ne..ne + n).map(entry).collect();
                    w.append_entries(&batch).unwrap();
                    ne += n;
                }
                2 => {
                    let n = 1 + rng.below(4) as usize;
                    let batch: Vec<_> = (nc..nc + n).map(console).collect();
                    w.append_console(&batch).unwrap();
                    nc += n;
                }
                3 => {
                    w.append_actions(&[action(na)]).unwrap();
                    na += 1;
                }
                _ => {
                    w.append_screenshot(&screenshot(ns)).unwrap();
                    ns += 1;
                }
            }
            println!("SPOOL FLUSHED {id} {ne} {nc} {na} {ns}");
        }
        let end = if rng.below(2) == 0 {
            SessionEnd::completed()
        } else {
            SessionEnd::stopped()
        };
        let status = end.status;
        w.finish(end).unwrap();
        println!("SPOOL FINISHED {id} {status}");
    }
}

/// Sessions recorded through the `StoreWriter` thread, as every capture is: the session and
/// its chunks are handed over and flushed by the thread's group commit, and reported after
/// `sync` (which waits for that flush) and after `finish` (which answers only once the
/// session is durable).
fn writer_thread(dir: &Path, seed: u64) {
    let mut rng = Rng(seed | 1);
    let writer = StoreWriter::spawn(Store::open(dir).unwrap()).unwrap();
    println!("SPOOL READY");
    loop {
        let mut sink = writer
            .begin(new_session(&format!("crash trial {seed}")))
            .unwrap();
        let id = sink.id();
        // A session begun is durable with the thread's next flush, not at once.
        writer.sync().unwrap();
        println!("SPOOL BEGIN {id}");
        let (mut ne, mut nc, mut ns) = (0usize, 0usize, 0usize);
        for _ in 0..1 + rng.below(25) {
            match rng.below(3) {
                0 => {
                    let n = 1 + rng.below(6) as usize;
                    sink.entries(&(ne..ne + n).map(entry).collect::<Vec<_>>());
                    ne += n;
                }
                1 => {
                    let n = 1 + rng.below(4) as usize;
                    sink.console(&(nc..nc + n).map(console).collect::<Vec<_>>());
                    nc += n;
                }
                _ => {
                    sink.screenshot(&screenshot(ns));
                    ns += 1;
                }
            }
            // Not every chunk waits for the disk, as in a capture.
            if rng.below(3) == 0 {
                writer.sync().unwrap();
                println!("SPOOL FLUSHED {id} {ne} {nc} 0 {ns}");
            }
        }
        let status = if rng.below(2) == 0 {
            SessionStatus::Completed
        } else {
            SessionStatus::Stopped
        };
        sink.finish(status, Vec::new(), None).unwrap();
        // Every chunk is durable now, the ones never synced too.
        println!("SPOOL FLUSHED {id} {ne} {nc} 0 {ns}");
        println!("SPOOL FINISHED {id} {status}");
    }
}

#[derive(Default, Debug, Clone)]
struct Expect {
    counts: [usize; 4],
    finished: Option<SessionStatus>,
}

fn check(store: &Store, expected: &HashMap<Uuid, Expect>, trial: usize) {
    // Every session, a page at a time (the writer thread's child writes thousands).
    let mut all = Vec::new();
    loop {
        let page = store
            .list(&SessionQuery {
                limit: 1000,
                offset: all.len(),
                ..Default::default()
            })
            .unwrap();
        let total = page.total;
        all.extend(page.sessions);
        if all.len() >= total {
            assert_eq!(all.len(), total);
            break;
        }
    }
    // Sessions may exist that the child began but never reported: they must be INTERRUPTED.
    for m in &all {
        if !expected.contains_key(&m.session_id) {
            assert_eq!(m.status, SessionStatus::Interrupted, "trial {trial}: {m:?}");
        }
        assert_ne!(m.status, SessionStatus::Recording, "trial {trial}");
    }
    for (id, want) in expected {
        let s = store
            .get(*id)
            .unwrap_or_else(|e| panic!("trial {trial}: {id}: {e}"));
        let m = &s.metadata;
        let got = [
            s.entries.len(),
            s.console.len(),
            s.actions.len(),
            s.screenshots.len(),
        ];
        match want.finished {
            Some(st) => {
                assert_eq!(m.status, st, "trial {trial}: finished session {id}");
                assert_eq!(got, want.counts, "trial {trial}: finished session {id}");
            }
            None => {
                // Killed while recording: every reported chunk is there; at most one more
                // (flushed, killed before it was reported); it may even have finished.
                assert!(
                    m.status == SessionStatus::Interrupted || m.end_time.is_some(),
                    "trial {trial}: {m:?}"
                );
                for k in 0..4 {
                    assert!(
                        got[k] >= want.counts[k],
                        "trial {trial}: {id} {got:?} {want:?}"
                    );
                }
            }
        }
        // The metadata counts agree with the streams, and the content is what was written.
        assert_eq!(
            [
                m.network_event_count as usize,
                m.console_entry_count as usize,
                m.action_count as usize,
                m.screenshot_count as usize
            ],
            got,
            "trial {trial}: {id}"
        );
        assert_eq!(s.entries, (0..got[0]).map(entry).collect::<Vec<_>>());
        assert_eq!(s.console, (0..got[1]).map(console).collect::<Vec<_>>());
        assert_eq!(s.actions, (0..got[2]).map(action).collect::<Vec<_>>());
        assert_eq!(
            s.screenshots,
            (0..got[3]).map(screenshot).collect::<Vec<_>>()
        );
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing_flushed() {
    kill_at_random_points("writer");
}

#[test]
fn sigkill_through_the_writer_thread_loses_nothing_synced_or_finished() {
    kill_at_random_points("writer_thread");
}

/// Kills a child writing in `mode` at random points, again and again on one store, and
/// checks after each kill that the store reopens with everything the child reported.
fn kill_at_random_points(mode: &str) {
    let trials: usize = std::env::var("SPOOL_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let base_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Rng(base_seed | 1);
    let mut expected: HashMap<Uuid, Expect> = HashMap::new();
    let mut interrupted_total = 0;
    for trial in 0..trials {
        let seed = rng.next();
        let mut child = spawn_child(mode, dir.path(), seed);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The test harness may have printed `test child_process ... ` first.
                if let Some(i) = line.find("SPOOL ")
                    && tx.send(line[i..].to_string()).is_err()
                {
                    break;
                }
            }
        });
        // Wait until the child is up, then kill it after a random delay.
        let ready = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child ready");
        assert_eq!(ready, "SPOOL READY");
        std::thread::sleep(Duration::from_millis(5 + rng.below(150)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let mut last_open = None;
        for line in rx.try_iter() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts[1] {
                "BEGIN" => {
                    let id: Uuid = parts[2].parse().unwrap();
                    expected.insert(id, Expect::default());
                    last_open = Some(id);
                }
                "FLUSHED" => {
                    let id: Uuid = parts[2].parse().unwrap();
                    let e = expected.get_mut(&id).unwrap();
                    for k in 0..4 {
                        e.counts[k] = parts[3 + k].parse().unwrap();
                    }
                }
                "FINISHED" => {
                    let id: Uuid = parts[2].parse().unwrap();
                    expected.get_mut(&id).unwrap().finished = Some(parts[3].parse().unwrap());
                    last_open = None;
                }
                _ => {}
            }
        }
        let store = Store::open(dir.path())
            .unwrap_or_else(|e| panic!("trial {trial} (seed {seed}): store does not reopen: {e}"));
        check(&store, &expected, trial);
        if let Some(id) = last_open {
            let m = store.metadata(id).unwrap();
            if m.status == SessionStatus::Interrupted {
                interrupted_total += 1;
                // From now on its content is fixed.
                let s = store.get(id).unwrap();
                expected.get_mut(&id).unwrap().counts = [
                    s.entries.len(),
                    s.console.len(),
                    s.actions.len(),
                    s.screenshots.len(),
                ];
                expected.get_mut(&id).unwrap().finished = Some(SessionStatus::Interrupted);
            }
        }
        drop(store);
    }
    assert!(
        interrupted_total >= trials / 2,
        "only {interrupted_total} of {trials} kills hit a recording"
    );
    eprintln!(
        "{trials} kills, {interrupted_total} mid-recording, {} sessions checked",
        expected.len()
    );
}

#[test]
fn a_second_process_gets_in_use_by_pid_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let run = || {
        let t = Instant::now();
        let out = spawn_child("open", dir.path(), 0)
            .wait_with_output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find_map(|l| l.find("SPOOL ").map(|i| l[i..].to_string()))
            .unwrap_or_else(|| panic!("no result from child: {text}"));
        (line, t.elapsed())
    };
    let (line, took) = run();
    let me = std::process::id();
    assert!(
        line.contains(&format!("is in use by PID {me}")),
        "expected in-use error naming PID {me}: {line}"
    );
    assert!(line.starts_with("SPOOL ERROR -32007"), "{line}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Once this process lets go, the other one can open it.
    drop(store);
    let (line, _) = run();
    assert_eq!(line, "SPOOL OPENED");

    // Within one process a second open fails the same way instead of hanging.
    let store = Store::open(dir.path()).unwrap();
    let e = Store::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("in use by PID"), "{e}");
    drop(store);
}
