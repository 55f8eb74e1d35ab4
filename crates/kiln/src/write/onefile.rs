//! [`Collection`](crate::collect::Collection) -> one executable: `DIR/NAME` is the launcher
//! followed by the onedir runtime as a compressed payload and a trailer that records the
//! payload's hash.
//!
//! The runtime is populated exactly as for onedir, minus the app launcher at the bundle root:
//! the onefile executable takes its place, unpacks the runtime into the per-user cache on its
//! first start and runs the interpreter from there. Like onedir, everything is made in a
//! staging directory beside the destination and renamed into place, so a failed build leaves
//! the previous file as it was.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use kiln_bundle::keys;
use kiln_bundle::payload::{self, PackOptions};

use super::{
    io_err, populate, remove_stale_staging, settings, staging_dir, swap_into_place, WriteError,
    WriteInput, WriteOutput, LAUNCHER, RUNTIME_DIR,
};

/// Writes the onefile executable `out_dir/name` for the first of `input.launchers`, replacing
/// whatever was there atomically. `compression_level` is zstd's, 1 to 19.
pub fn write_onefile(
    input: &WriteInput<'_>,
    compression_level: i32,
) -> Result<WriteOutput, WriteError> {
    let component = match input.launchers {
        [(_, component)] => component,
        _ => return Err(WriteError::OnefileLaunchers(input.launchers.len())),
    };
    std::fs::create_dir_all(input.out_dir).map_err(io_err(input.out_dir))?;
    remove_stale_staging(input.out_dir, input.name);
    let staging = staging_dir(input.out_dir, input.name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let result = write_in(&staging, input, component, compression_level);
    let final_path = input.out_dir.join(input.name);
    let result = result.and_then(|written| {
        swap_into_place(&staging.join(input.name), &final_path).map(|()| written)
    });
    let _ = std::fs::remove_dir_all(&staging);
    let written = result?;
    Ok(WriteOutput {
        bundle_dir: final_path.clone(),
        executables: vec![final_path],
        ..written
    })
}

/// Populates `staging/runtime`, then writes `staging/NAME` from it.
fn write_in(
    staging: &Path,
    input: &WriteInput<'_>,
    component: &str,
    compression_level: i32,
) -> Result<WriteOutput, WriteError> {
    let tree = staging.join("runtime");
    let populated = populate(
        &tree,
        &WriteInput {
            launchers: &[],
            ..*input
        },
    )?;
    let exe = staging.join(input.name);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(&exe)
        .map_err(io_err(&exe))?;
    file.write_all(LAUNCHER).map_err(io_err(&exe))?;
    let packed = {
        let mut out = BufWriter::with_capacity(1 << 20, &mut file);
        let options = PackOptions {
            level: compression_level,
            threads: rayon::current_num_threads() as u32,
        };
        let packed = payload::pack(&tree, &mut out, &options).map_err(io_err(&tree))?;
        out.flush().map_err(io_err(&exe))?;
        packed
    };
    let mut trailer = settings("app", RUNTIME_DIR, input.collection, component);
    trailer
        .settings
        .push((keys::PAYLOAD_HASH.to_string(), packed.hash.clone()));
    trailer.settings.push((
        keys::PAYLOAD_FORMAT.to_string(),
        payload::FORMAT.to_string(),
    ));
    trailer.payload_len = packed.len;
    file.write_all(&trailer.encode()).map_err(io_err(&exe))?;
    let size = file_size(&file).map_err(io_err(&exe))?;
    Ok(WriteOutput {
        bundle_dir: exe.clone(),
        executables: vec![exe],
        files: populated.files,
        bytes: populated.bytes,
        onefile_bytes: Some(size),
        sizes: populated.sizes,
        warnings: populated.warnings,
    })
}

fn file_size(file: &File) -> std::io::Result<u64> {
    Ok(file.metadata()?.len())
}
