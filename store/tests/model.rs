//! Random sequences of begin / append / finish / delete / reopen, checked against a simple
//! in-memory model of what the store should hold.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::*;
use proptest::prelude::*;
use spool_store::{
    SessionEnd, SessionQuery, SessionStatus, SessionWriter, Store, StoreError, Uuid,
};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
enum Op {
    Begin(u8),
    AppendEntries(usize, usize),
    AppendConsole(usize, usize),
    Finish(usize, u8),
    Delete(usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Begin),
        4 => (any::<usize>(), 1..4usize).prop_map(|(s, n)| Op::AppendEntries(s, n)),
        2 => (any::<usize>(), 1..3usize).prop_map(|(s, n)| Op::AppendConsole(s, n)),
        2 => (any::<usize>(), 0..3u8).prop_map(|(s, k)| Op::Finish(s, k)),
        1 => any::<usize>().prop_map(Op::Delete),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct Model {
    task: String,
    status: SessionStatus,
    entries: usize,
    console: usize,
}

struct World {
    dir: tempfile::TempDir,
    store: Option<Store>,
    writers: HashMap<Uuid, SessionWriter>,
    model: BTreeMap<Uuid, Model>,
    /// Every id ever begun, deleted ones included, in order.
    ids: Vec<Uuid>,
}

impl World {
    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    fn pick(&self, slot: usize) -> Option<Uuid> {
        (!self.ids.is_empty()).then(|| self.ids[slot % self.ids.len()])
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Begin(word) => {
                let task = format!("task w{} common", word % 5);
                let w = self.store().begin_session(new_session(&task)).unwrap();
                self.ids.push(w.id());
                self.model.insert(
                    w.id(),
                    Model {
                        task,
                        status: SessionStatus::Recording,
                        entries: 0,
                        console: 0,
                    },
                );
                self.writers.insert(w.id(), w);
            }
            Op::AppendEntries(slot, n) | Op::AppendConsole(slot, n) => {
                let Some(id) = self.pick(slot) else { return };
                let Some(w) = self.writers.get_mut(&id) else {
                    return;
                };
                let m = self.model.get_mut(&id).unwrap();
                if matches!(op, Op::AppendEntries(..)) {
                    let batch: Vec<_> = (m.entries..m.entries + n).map(entry).collect();
                    w.append_entries(&batch).unwrap();
                    m.entries += n;
                } else {
                    let batch: Vec<_> = (m.console..m.console + n).map(console).collect();
                    w.append_console(&batch).unwrap();
                    m.console += n;
                }
            }
            Op::Finish(slot, k) => {
                let Some(id) = self.pick(slot) else { return };
                let Some(w) = self.writers.remove(&id) else {
                    return;
                };
                let status = [
                    SessionStatus::Completed,
                    SessionStatus::Stopped,
                    SessionStatus::Error,
                ][k as usize];
                let meta = w.finish(SessionEnd::new(status)).unwrap();
                assert_eq!(meta.status, status);
                self.model.get_mut(&id).unwrap().status = status;
            }
            Op::Delete(slot) => {
                let Some(id) = self.pick(slot) else { return };
                let result = self.store().delete(id);
                if self.writers.contains_key(&id) {
                    assert!(matches!(result, Err(StoreError::InvalidParams { .. })));
                } else if self.model.remove(&id).is_some() {
                    result.unwrap();
                } else {
                    assert!(matches!(result, Err(StoreError::SessionNotFound(_))));
                }
            }
            Op::Reopen => {
                // Writers dropped without finishing leave their sessions INTERRUPTED.
                for (id, w) in self.writers.drain() {
                    drop(w);
                    self.model.get_mut(&id).unwrap().status = SessionStatus::Interrupted;
                }
                self.store = None;
                self.store = Some(Store::open(self.dir.path()).unwrap());
            }
        }
    }

    fn check(&self) {
        let store = self.store();
        let page = store
            .list(&SessionQuery {
                limit: 1000,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.total, self.model.len());
        assert_eq!(store.session_count(), self.model.len());
        // A page of an unfiltered listing reads only the page, and still gives the total.
        let small = store
            .list(&SessionQuery {
                limit: 2,
                offset: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(small.total, self.model.len());
        assert_eq!(
            small.sessions.len(),
            self.model.len().saturating_sub(1).min(2)
        );
        let listed: BTreeMap<Uuid, Model> = page
            .sessions
            .iter()
            .map(|m| {
                (
                    m.session_id,
                    Model {
                        task: m.task_description.clone(),
                        status: m.status,
                        entries: m.network_event_count as usize,
                        console: m.console_entry_count as usize,
                    },
                )
            })
            .collect();
        assert_eq!(listed, self.model);
        // Newest first.
        assert!(
            page.sessions
                .windows(2)
                .all(|w| w[0].start_time >= w[1].start_time)
        );
        for (id, m) in &self.model {
            let s = store.get(*id).unwrap();
            assert_eq!(s.entries, (0..m.entries).map(entry).collect::<Vec<_>>());
            assert_eq!(s.console, (0..m.console).map(console).collect::<Vec<_>>());
            assert_eq!(s.metadata.status, m.status);
        }
        for id in &self.ids {
            if !self.model.contains_key(id) {
                assert!(matches!(
                    store.get(*id),
                    Err(StoreError::SessionNotFound(_))
                ));
            }
        }
        // Word filter agrees with the model.
        let w1 = store
            .list(&SessionQuery {
                limit: 1000,
                words: Some("W1 COMMON".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            w1.total,
            self.model
                .values()
                .filter(|m| m.task.contains("w1 "))
                .count()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn store_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut world = World {
            dir,
            store: Some(store),
            writers: HashMap::new(),
            model: BTreeMap::new(),
            ids: Vec::new(),
        };
        for op in &ops {
            world.apply(op);
            if matches!(op, Op::Reopen | Op::Delete(_) | Op::Finish(..)) {
                world.check();
            }
        }
        world.check();
        world.apply(&Op::Reopen);
        world.check();
        world.writers.clear();
        world.store = None;
    }
}
