//! One process at a time: an advisory `flock` on `<dir>/spool.pid`, which holds the owner's
//! PID. The kernel drops the lock when the owner exits, however it exits (SIGKILL too), so a
//! stale file never blocks anyone; a second opener fails at once with the owner's PID rather
//! than waiting on sled's own lock.

use crate::error::StoreError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

pub const LOCK_FILE: &str = "spool.pid";

#[derive(Debug)]
pub struct PidLock {
    _file: File,
}

impl PidLock {
    #[allow(unsafe_code)] // libc::flock: std has no non-blocking exclusive file lock at our MSRV.
    pub fn acquire(dir: &Path) -> Result<PidLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // SAFETY: flock on a file descriptor we own; no memory is touched.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                // The owner writes its PID right after locking; give it a moment.
                let mut pid = None;
                for _ in 0..10 {
                    let mut text = String::new();
                    let _ = file.seek(SeekFrom::Start(0));
                    let _ = file.read_to_string(&mut text);
                    pid = text.trim().parse().ok();
                    if pid.is_some() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                return Err(StoreError::InUse {
                    dir: dir.to_path_buf(),
                    pid,
                });
            }
            return Err(err.into());
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        file.sync_all()?;
        Ok(PidLock { _file: file })
    }
}
