//! CPU time of this process and every process it started (Chromium's browser, renderers,
//! GPU and utility processes), read from /proc, by kind of process: what bounds how many
//! page loads a minute a machine can do. Linux only.

use std::collections::{BTreeMap, HashMap};

/// Linux's USER_HZ: /proc counts CPU time in hundredths of a second.
const TICK_SECONDS: f64 = 1.0 / 100.0;

/// A reading of CPU ticks (user + system) by kind of process: `spool` (this process),
/// `browser`, each Chromium `--type` (`renderer`, `gpu-process`, `utility:NetworkService`,
/// ...), and `exited` for processes already reaped (mostly the renderers of disposed
/// contexts, counted in their parent's children time).
#[derive(Debug, Clone, Default)]
pub struct CpuByProcess(BTreeMap<String, u64>);

impl CpuByProcess {
    /// Reads /proc now.
    pub fn now() -> CpuByProcess {
        let me = std::process::id();
        let mut parent = HashMap::new();
        let mut ticks = HashMap::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name, which may hold spaces: state, ppid, ...
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            let field = |i: usize| fields[i].parse::<u64>().unwrap();
            parent.insert(pid, field(1) as u32);
            ticks.insert(pid, (field(11) + field(12), field(13) + field(14)));
        }
        let descends_from_me = |mut pid: u32| loop {
            if pid == me {
                return true;
            }
            match parent.get(&pid) {
                Some(&up) if up != 0 && up != pid => pid = up,
                _ => return false,
            }
        };
        let mut by_kind = BTreeMap::new();
        for (&pid, &(own, reaped)) in ticks.iter().filter(|(pid, _)| descends_from_me(**pid)) {
            *by_kind.entry(kind_of(pid, me)).or_insert(0) += own;
            *by_kind.entry("exited".to_string()).or_insert(0) += reaped;
        }
        CpuByProcess(by_kind)
    }

    /// CPU seconds used by each kind since `earlier`. A process that exited moves its time
    /// from its kind to `exited`, so one kind may come out negative; the total is right.
    pub fn since(&self, earlier: &CpuByProcess) -> CpuUsed {
        let kinds = self.0.keys().chain(earlier.0.keys());
        CpuUsed(
            kinds
                .map(|k| {
                    let ticks = self.0.get(k).copied().unwrap_or(0) as i64
                        - earlier.0.get(k).copied().unwrap_or(0) as i64;
                    (k.clone(), ticks as f64 * TICK_SECONDS)
                })
                .collect(),
        )
    }
}

/// CPU seconds by kind of process, from [`CpuByProcess::since`].
#[derive(Debug, Clone)]
pub struct CpuUsed(BTreeMap<String, f64>);

impl CpuUsed {
    /// All kinds together, in seconds.
    pub fn total(&self) -> f64 {
        self.0.values().sum()
    }

    /// "browser 330, exited 213, ..." in milliseconds per one of `n` loads, kinds that used
    /// nothing left out.
    pub fn per_load_ms(&self, n: usize) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, s)| (k, (s / n as f64 * 1000.0).round()))
            .filter(|(_, ms)| *ms != 0.0)
            .map(|(k, ms)| format!("{k} {ms}"))
            .collect();
        parts.join(", ")
    }
}

/// `spool` for this process, else Chromium's `--type` (with a utility's sub-type), else
/// `browser`. Chromium's forked children rewrite their command line as one space-separated
/// string, so both separators count.
fn kind_of(pid: u32, me: u32) -> String {
    if pid == me {
        return "spool".into();
    }
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let flag = |name: &str| {
        cmdline
            .split(['\0', ' '])
            .find_map(|a| a.strip_prefix(name))
            .map(str::to_string)
    };
    match (flag("--type="), flag("--utility-sub-type=")) {
        (Some(t), Some(sub)) => format!("{t}:{}", sub.rsplit('.').next().unwrap_or(&sub)),
        (Some(t), None) => t,
        (None, _) => "browser".into(),
    }
}
