//! Atomic file writes.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use crate::error::{RegistryError, Result};

/// Removes `<prefix><pid>` files in `dir` left by writers that died (SIGKILL, power loss)
/// before renaming them. A writer is known dead when its process is gone; where that cannot
/// be told (no `/proc`), nothing is removed. Best effort: a failure leaves the file, which is
/// never read anyway.
fn remove_stale_temp_files(dir: &Path, prefix: &str) {
    let proc_fs = Path::new("/proc/self");
    if !proc_fs.exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        // A live writer (another process, or this one) is still using its file.
        if pid != me && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written,
/// flushed to disk (`fsync`), renamed over `path`, and the directory is synced, so a reader
/// (or a crash) sees either the old file or the new one, never a half-written one. Temporary
/// files of writers that were killed before renaming are removed first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |context: String| move |source| RegistryError::Io { context, source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| RegistryError::Invalid(format!("{} is not a file path", path.display())))?;
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    remove_stale_temp_files(&dir, &prefix);
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        f.write_all(bytes)
            .map_err(io(format!("writing {}", tmp.display())))?;
        f.sync_all()
            .map_err(io(format!("syncing {}", tmp.display())))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io(format!(
            "renaming {} to {}",
            tmp.display(),
            path.display()
        )))?;
        // Persist the rename itself. Directories cannot be opened for syncing everywhere
        // (e.g. Windows); where they can, a failure is reported.
        if cfg!(unix) {
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(io(format!("syncing directory {}", dir.display())))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
