//! [`Collection`](crate::collect::Collection) -> one executable: `DIR/NAME` is the launcher
//! followed by the onedir runtime as a compressed payload and a trailer whose settings (mode
//! `onefile`, see `kiln_bundle::Settings`) record the payload's hash and the launcher's, which
//! the launcher checks before it trusts either.
//!
//! The runtime is populated exactly as for onedir, minus the app launcher at the bundle root:
//! the onefile executable takes its place, unpacks the runtime into the per-user cache on its
//! first start and runs the interpreter from there. Like onedir, everything is made in a
//! staging directory beside the destination and renamed into place, so a failed build leaves
//! the previous file as it was.
//!
//! A suite (several launchers) is written as the directory `DIR/NAME/`, as in onedir form but
//! without `_kiln/`: the dispatcher `NAME` is the onefile executable holding the one payload,
//! and each component's `NAME-COMPONENT` is a plain launcher whose settings (mode `component`)
//! name `NAME` as the file its payload is in, and that payload's hash. Every component so runs
//! from the same cache entry.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use kiln_bundle::payload::{self, PackOptions};
use kiln_bundle::Mode;

use super::{
    io_err, normalize_modes, populate, remove_stale_staging, settings, staging_dir,
    swap_into_place, write_launcher, WriteError, WriteInput, WriteOutput, LAUNCHER, RUNTIME_DIR,
};

/// Writes the onefile executable `out_dir/name` for the only one of `input.launchers`, or for
/// several (a suite) the directory `out_dir/name/` with the executable `name` (which must be
/// one of the launchers) and the other launchers beside it, replacing whatever was there
/// atomically. `compression_level` is zstd's, 1 to 19.
pub fn write_onefile(
    input: &WriteInput<'_>,
    compression_level: Option<i32>,
) -> Result<WriteOutput, WriteError> {
    let suite = match input.launchers {
        [_] => false,
        [_, _, ..] if input.launchers.iter().any(|(file, _)| file == input.name) => true,
        _ => return Err(WriteError::OnefileLaunchers(input.launchers.len())),
    };
    std::fs::create_dir_all(input.out_dir).map_err(io_err(input.out_dir))?;
    remove_stale_staging(input.out_dir, input.name);
    let staging = staging_dir(input.out_dir, input.name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    // `staging/runtime` is what the payload packs, `staging/out/NAME` what is put in place.
    let out = staging.join("out");
    let built = out.join(input.name);
    let result = std::fs::create_dir_all(&out)
        .map_err(io_err(&out))
        .and_then(|()| {
            if suite {
                write_suite_in(&staging, &built, input, compression_level)
            } else {
                let component = &input.launchers[0].1;
                write_in(
                    &staging,
                    &out,
                    input,
                    component,
                    component,
                    compression_level,
                )
                .map(|written| written.output)
            }
        });
    let final_path = input.out_dir.join(input.name);
    let result = result.and_then(|written| {
        normalize_modes(&built)?;
        swap_into_place(&built, &final_path).map(|()| written)
    });
    let _ = std::fs::remove_dir_all(&staging);
    let written = result?;
    let moved = |path: &PathBuf| match path.strip_prefix(&built) {
        Ok(rel) if rel.as_os_str().is_empty() => final_path.clone(),
        Ok(rel) => final_path.join(rel),
        Err(_) => path.clone(),
    };
    Ok(WriteOutput {
        bundle_dir: final_path.clone(),
        executables: written.executables.iter().map(moved).collect(),
        ..written
    })
}

/// A suite: `dir/NAME` with the payload, then one launcher per component beside it.
/// `onefile_bytes` is the size of `NAME` alone.
fn write_suite_in(
    staging: &Path,
    dir: &Path,
    input: &WriteInput<'_>,
    compression_level: Option<i32>,
) -> Result<WriteOutput, WriteError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let dispatcher = input
        .launchers
        .iter()
        .find(|(file, _)| file == input.name)
        .map(|(_, component)| component.as_str())
        .ok_or(WriteError::OnefileLaunchers(input.launchers.len()))?;
    let mut written = write_in(
        staging,
        dir,
        input,
        dispatcher,
        input.name,
        compression_level,
    )?;
    for (file_name, component) in input.launchers {
        if file_name == input.name {
            continue;
        }
        let exe = dir.join(file_name);
        let mut settings = settings("app", RUNTIME_DIR, input.collection, component);
        settings.mode = Mode::Component {
            payload_file: input.name.to_string(),
            payload_hash: written.payload_hash.clone(),
            launcher_hash: launcher_hash(),
        };
        write_launcher(&exe, &settings)?;
        written.output.executables.push(exe);
    }
    Ok(written.output)
}

/// What [`write_in`] wrote, and the payload's hash.
struct Written {
    output: WriteOutput,
    payload_hash: String,
}

/// SHA-256 of the launcher image, as the onefile and component modes record it.
fn launcher_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| kiln_bundle::sha256_hex(LAUNCHER))
        .clone()
}

/// Populates `staging/runtime`, then writes `dir/NAME` from it, starting `component`, with
/// `app_name` as what its cache entry records.
fn write_in(
    staging: &Path,
    dir: &Path,
    input: &WriteInput<'_>,
    component: &str,
    app_name: &str,
    compression_level: Option<i32>,
) -> Result<Written, WriteError> {
    let tree = staging.join("runtime");
    let populated = populate(
        &tree,
        &WriteInput {
            launchers: &[],
            ..*input
        },
    )?;
    let exe = dir.join(input.name);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(&exe)
        .map_err(io_err(&exe))?;
    file.write_all(LAUNCHER).map_err(io_err(&exe))?;
    let packed = {
        let mut out = BufWriter::with_capacity(1 << 20, &mut file);
        let level = compression_level
            .unwrap_or_else(|| crate::config::auto_compression_level(populated.bytes));
        let options = PackOptions {
            level,
            threads: rayon::current_num_threads() as u32,
        };
        let packed = payload::pack(&tree, &mut out, &options).map_err(io_err(&tree))?;
        out.flush().map_err(io_err(&exe))?;
        packed
    };
    let mut settings = settings("app", RUNTIME_DIR, input.collection, component);
    settings.mode = Mode::Onefile {
        payload_hash: packed.hash.clone(),
        payload_format: payload::FORMAT.to_string(),
        app_name: app_name.to_string(),
        launcher_hash: launcher_hash(),
    };
    file.write_all(&settings.encode(packed.len))
        .map_err(io_err(&exe))?;
    let size = file_size(&file).map_err(io_err(&exe))?;
    Ok(Written {
        output: WriteOutput {
            bundle_dir: exe.clone(),
            executables: vec![exe],
            files: populated.files,
            bytes: populated.bytes,
            onefile_bytes: Some(size),
            sizes: populated.sizes,
            warnings: populated.warnings,
            archive: populated.archive,
            archived: populated.archived,
        },
        payload_hash: packed.hash,
    })
}

fn file_size(file: &File) -> std::io::Result<u64> {
    Ok(file.metadata()?.len())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use kiln_bundle::{keys, Trailer};

    use super::*;
    use crate::collect::{BundleFile, Collection, FileRole};

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn collection(dir: &Path) -> Collection {
        let file = |dest: &str, role: FileRole| {
            let source = dir.join(dest.replace('/', "-"));
            std::fs::write(&source, dest).unwrap();
            BundleFile {
                dest: PathBuf::from(dest),
                origin: source.clone(),
                source,
                role,
                module: None,
                distribution: None,
                why: String::new(),
                elf: None,
                rpath_fix: None,
                strip: false,
                gpu: false,
            }
        };
        Collection {
            files: vec![
                file("bin/python3.11", FileRole::Interpreter),
                file("lib/boot.pyc", FileRole::Boot),
            ],
            interpreter: "bin/python3.11".into(),
            executable: "bin/python".into(),
            boot: "lib/boot.pyc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_suite_is_one_payload_beside_a_launcher_per_component() {
        let tmp = tempfile::tempdir().unwrap();
        let collection = collection(tmp.path());
        let out = tmp.path().join("dist");
        let launchers: Vec<(String, String)> = [("s-a", "a"), ("s-b", "b"), ("s", "*")]
            .iter()
            .map(|(file, component)| (file.to_string(), component.to_string()))
            .collect();
        let input = WriteInput {
            collection: &collection,
            out_dir: &out,
            name: "s",
            launchers: &launchers,
            archive: true,
            upx: None,
        };
        let written = write_onefile(&input, Some(1)).unwrap();
        let dir = out.join("s");
        assert_eq!(written.bundle_dir, dir);
        assert_eq!(names(&out), ["s"], "the staging directory is gone");
        assert_eq!(names(&dir), ["s", "s-a", "s-b"]);
        assert_eq!(
            written.executables,
            [dir.join("s"), dir.join("s-a"), dir.join("s-b")]
        );

        let (dispatcher, _) = Trailer::read_from_path(&dir.join("s")).unwrap();
        assert!(dispatcher.payload_len > 0);
        assert_eq!(dispatcher.get(keys::COMPONENT), Some("*"));
        assert_eq!(dispatcher.get(keys::APP_NAME), Some("s"));
        assert_eq!(dispatcher.get(keys::PAYLOAD_FILE), None);
        let hash = dispatcher.get(keys::PAYLOAD_HASH).unwrap();
        let typed = dispatcher.decode_settings().unwrap();
        assert!(
            matches!(&typed.mode, kiln_bundle::Mode::Onefile { app_name, launcher_hash, .. }
                if app_name == "s" && *launcher_hash == kiln_bundle::sha256_hex(LAUNCHER)),
            "{typed:?}"
        );
        for component in ["a", "b"] {
            let exe = dir.join(format!("s-{component}"));
            let (trailer, _) = Trailer::read_from_path(&exe).unwrap();
            assert_eq!(trailer.payload_len, 0);
            assert_eq!(trailer.get(keys::COMPONENT), Some(component));
            assert_eq!(trailer.get(keys::PAYLOAD_FILE), Some("s"));
            assert_eq!(trailer.get(keys::PAYLOAD_HASH), Some(hash));
            assert_eq!(trailer.get(keys::RUNTIME), Some(RUNTIME_DIR));
            assert_eq!(trailer.get(keys::MODE), Some("component"));
            assert!(trailer.decode_settings().is_ok());
            assert_eq!(
                std::fs::metadata(&exe).unwrap().len(),
                (LAUNCHER.len() + trailer.encode().len()) as u64
            );
        }

        // A single onefile build of the same name replaces the directory with one file.
        let single = [("s".to_string(), "s".to_string())];
        let written = write_onefile(
            &WriteInput {
                launchers: &single,
                ..input
            },
            Some(1),
        )
        .unwrap();
        assert_eq!(written.executables, std::slice::from_ref(&dir));
        assert!(dir.is_file());
        assert_eq!(names(&out), ["s"]);
    }

    #[test]
    fn a_suite_needs_the_dispatcher_among_its_launchers() {
        let tmp = tempfile::tempdir().unwrap();
        let collection = collection(tmp.path());
        let out = tmp.path().join("dist");
        let launchers = [
            ("s-a".to_string(), "a".to_string()),
            ("s-b".to_string(), "b".to_string()),
        ];
        let input = WriteInput {
            collection: &collection,
            out_dir: &out,
            name: "s",
            launchers: &launchers,
            archive: true,
            upx: None,
        };
        assert!(matches!(
            write_onefile(&input, Some(1)),
            Err(WriteError::OnefileLaunchers(2))
        ));
    }
}
