//! Atomic file writes, and snapshot writes that never go back in time.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use kya_verify::snapshot::Snapshot;

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

/// The directory of `path` and the prefix of its writers' temporary files.
fn temp_prefix(path: &Path) -> Result<(std::path::PathBuf, String)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| RegistryError::Invalid(format!("{} is not a file path", path.display())))?;
    Ok((dir, format!(".{}.tmp-", name.to_string_lossy())))
}

/// Removes the temporary files that killed writers of `path` left behind (see
/// [`write_atomic`]); called when a sync starts, so a crash loop leaves nothing behind.
pub(crate) fn remove_stale_temp_files_of(path: &Path) {
    if let Ok((dir, prefix)) = temp_prefix(path) {
        remove_stale_temp_files(&dir, &prefix);
    }
}

/// Writes `snapshot` to `path` unless the file there already reflects a later block (a sync
/// that started later and finished first): the newer snapshot is kept and returned. Writers
/// of one path take turns on an exclusive lock of `.<name>.lock` beside it (kept there), so
/// the comparison and the rename are one step.
pub fn write_snapshot_unless_newer(path: &Path, snapshot: &Snapshot) -> Result<Snapshot> {
    let (dir, _) = temp_prefix(path)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let lock_path = dir.join(format!(".{name}.lock"));
    let io = |context: String| move |source| RegistryError::Io { context, source };
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(format!("opening {}", lock_path.display())))?;
    lock.lock()
        .map_err(io(format!("locking {}", lock_path.display())))?;
    // A file that no longer loads is replaced; one of a later block is kept.
    if let Ok(Some(on_disk)) = crate::sync::read_snapshot(path)
        && on_disk.block().number > snapshot.block().number
    {
        return Ok(on_disk);
    }
    write_atomic(path, &snapshot.to_json_bytes())?;
    Ok(snapshot.clone())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written,
/// flushed to disk (`fsync`), renamed over `path`, and the directory is synced, so a reader
/// (or a crash) sees either the old file or the new one, never a half-written one. Temporary
/// files of writers that were killed before renaming are removed first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |context: String| move |source| RegistryError::Io { context, source };
    let (dir, prefix) = temp_prefix(path)?;
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
