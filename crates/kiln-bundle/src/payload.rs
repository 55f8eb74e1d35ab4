//! The onefile payload: a directory tree packed into one zstd frame, appended to the launcher by
//! kiln and unpacked by the launcher on its first run.
//!
//! The frame decompresses to:
//!
//! ```text
//! header   "KILNPAK1" | entry count u32 | blob count u32
//! entries  kind u8 (0 directory, 1 file) | mode u16 | path length u16 | blob u32 | path bytes
//! blobs    length u64, one per blob
//! data     the blobs' contents, in blob order
//! ```
//!
//! (integers little-endian). Paths are relative and `/`-separated, and every directory comes
//! before what it holds. A blob is the content of one or more files: identical files are stored
//! once. One frame rather than a frame per file lets zstd find the repetition between the many
//! small bytecode files of a bundle.
//!
//! The frame carries zstd's content checksum (XXH64 of the decompressed bytes), which the
//! reader requires: bytes changed after the frame was made are caught even when the trailer's
//! hash was recomputed to match them.
//!
//! A payload is identified by the SHA-256 of its compressed bytes. The writer records it in the
//! trailer (`payload-hash`); the reader recomputes it from the bytes it decompresses, so one pass
//! both unpacks and verifies. The caller trusts what was unpacked only once [`unpack`] returned
//! `Ok`: a damaged payload can only have written inside the destination, never outside it,
//! because paths are checked before use and nothing but directories and regular files is made.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The payload format this crate writes and reads (the trailer's `payload-format`).
/// 2: format 1 with the frame's content checksum required.
pub const FORMAT: &str = "2";
/// zstd's frame magic number, as the frame's first bytes.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The frame header descriptor's `Content_Checksum_flag`.
const CHECKSUM_FLAG: u8 = 0x04;
/// Starts the decompressed stream.
const MAGIC: &[u8; 8] = b"KILNPAK1";
/// More entries or blobs than this mean a corrupt index.
const MAX_COUNT: u32 = 1 << 22;
/// Bytes moved per read while unpacking.
const COPY_BUF: usize = 256 * 1024;

const KIND_DIR: u8 = 0;
const KIND_FILE: u8 = 1;

/// How to compress.
#[derive(Debug, Clone, Copy)]
pub struct PackOptions {
    /// zstd level, 1 (fastest) to 19 (smallest).
    pub level: i32,
    /// Compression threads; used only with the `zstdmt` feature (which gives other bytes than
    /// a build without it).
    pub threads: u32,
}

/// What [`pack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Compressed length: the trailer's `payload_len`.
    pub len: u64,
    /// SHA-256 of the compressed bytes, lowercase hex.
    pub hash: String,
    pub dirs: usize,
    pub files: usize,
    /// Distinct file contents stored.
    pub blobs: usize,
    /// Total size of the files, as unpacked.
    pub bytes: u64,
}

/// What [`unpack`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub dirs: usize,
    pub files: usize,
    /// Total size of the files.
    pub bytes: u64,
    /// Every directory and file made, relative to the destination, parents first.
    pub paths: Vec<PathBuf>,
}

/// Why a payload could not be unpacked.
#[derive(Debug)]
pub enum PayloadError {
    /// The payload's bytes do not hash to the recorded value: the file was modified.
    Mismatch,
    /// The file ends before the payload does.
    Truncated,
    /// The bytes hash correctly but do not form a payload this reader understands.
    Corrupt(String),
    /// Reading the file failed.
    Read(io::Error),
    /// Writing an unpacked file or directory failed.
    Write(PathBuf, io::Error),
}

impl PayloadError {
    /// Whether the payload itself is bad (rather than the disk it is unpacked to).
    pub fn is_damaged(&self) -> bool {
        !matches!(self, PayloadError::Write(..))
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Mismatch => {
                f.write_str("the bundled files do not match their checksum (the file was modified)")
            }
            PayloadError::Truncated => {
                f.write_str("the bundled files end early (the file is truncated)")
            }
            PayloadError::Corrupt(what) => write!(f, "the bundled files are unreadable ({what})"),
            PayloadError::Read(e) => write!(f, "cannot read the bundled files: {e}"),
            PayloadError::Write(path, e) => write!(f, "cannot write {}: {e}", path.display()),
        }
    }
}

impl std::error::Error for PayloadError {}

/// One directory or file to pack.
struct Node {
    /// Relative, `/`-separated.
    path: Vec<u8>,
    mode: u16,
    /// `None` for a directory.
    blob: Option<u32>,
}

/// Packs every directory and regular file under `root` (not `root` itself) into `out`.
///
/// Anything else (a symlink, a socket) is an error: the payload has no way to express it.
pub fn pack<W: Write>(root: &Path, out: W, options: &PackOptions) -> io::Result<Packed> {
    let mut walked = Vec::new();
    walk(root, &mut Vec::new(), &mut walked)?;

    // Identical contents are stored once, in the order they are first met.
    let mut nodes = Vec::with_capacity(walked.len());
    let mut blobs: Vec<(PathBuf, u64)> = Vec::new();
    let mut by_content: HashMap<[u8; 32], u32> = HashMap::new();
    let mut bytes = 0u64;
    let mut files = 0usize;
    for (path, source, meta) in walked {
        let mode = (meta.permissions().mode() & 0o7777) as u16;
        if meta.is_dir() {
            nodes.push(Node {
                path,
                mode,
                blob: None,
            });
            continue;
        }
        let digest = file_digest(&source)?;
        let next = blobs.len() as u32;
        let blob = *by_content.entry(digest).or_insert(next);
        if blob == next {
            blobs.push((source, meta.len()));
        }
        files += 1;
        bytes += meta.len();
        nodes.push(Node {
            path,
            mode,
            blob: Some(blob),
        });
    }
    if nodes.len() as u64 > u64::from(MAX_COUNT) {
        return Err(io::Error::other("too many files for one payload"));
    }

    let mut sink = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
        len: 0,
    };
    let mut encoder = zstd::stream::write::Encoder::new(&mut sink, options.level)?;
    encoder.include_checksum(true)?;
    // Any number of workers gives the same bytes, but none (zstd's single-threaded mode) gives
    // others: always use workers, so the hash does not depend on the building machine.
    #[cfg(feature = "zstdmt")]
    encoder.multithread(options.threads.max(1))?;
    let mut index = Vec::new();
    index.extend_from_slice(MAGIC);
    index.extend_from_slice(&(nodes.len() as u32).to_le_bytes());
    index.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for node in &nodes {
        let path_len = u16::try_from(node.path.len()).map_err(|_| {
            io::Error::other(format!(
                "{}: path too long for a payload",
                String::from_utf8_lossy(&node.path)
            ))
        })?;
        index.push(if node.blob.is_some() {
            KIND_FILE
        } else {
            KIND_DIR
        });
        index.extend_from_slice(&node.mode.to_le_bytes());
        index.extend_from_slice(&path_len.to_le_bytes());
        index.extend_from_slice(&node.blob.unwrap_or(0).to_le_bytes());
        index.extend_from_slice(&node.path);
    }
    for (_, len) in &blobs {
        index.extend_from_slice(&len.to_le_bytes());
    }
    encoder.write_all(&index)?;
    for (source, len) in &blobs {
        let file = File::open(source).map_err(|e| with_path(source, e))?;
        let copied = io::copy(&mut file.take(*len), &mut encoder)?;
        if copied != *len {
            return Err(with_path(
                source,
                io::Error::other("the file shrank while it was packed"),
            ));
        }
    }
    encoder.finish()?;
    sink.flush()?;
    Ok(Packed {
        len: sink.len,
        hash: hex(&sink.hasher.finalize()),
        dirs: nodes.len() - files,
        files,
        blobs: blobs.len(),
        bytes,
    })
}

/// Unpacks the `len` bytes of payload that `payload` yields into `dest`, an existing empty
/// directory, and checks them against `hash` (the trailer's `payload-hash`).
///
/// On error `dest` may hold part of the tree, which the caller must discard.
pub fn unpack<R: Read>(
    payload: R,
    len: u64,
    hash: &str,
    dest: &Path,
) -> Result<Unpacked, PayloadError> {
    let mut source = HashingReader {
        inner: payload.take(len),
        hasher: Sha256::new(),
        len: 0,
    };
    let mut head = [0u8; 5];
    let checksummed = source.read_exact(&mut head).is_ok()
        && head[..4] == ZSTD_MAGIC
        && head[4] & CHECKSUM_FLAG != 0;
    let unpacked = if checksummed {
        let buffered = BufReader::with_capacity(COPY_BUF, (&head[..]).chain(&mut source));
        match zstd::stream::read::Decoder::with_buffer(buffered) {
            Ok(decoder) => {
                let mut decoder = decoder.single_frame();
                extract(&mut decoder, dest).and_then(|u| {
                    expect_end(&mut decoder)?;
                    Ok(u)
                })
            }
            Err(e) => Err(PayloadError::Corrupt(e.to_string())),
        }
    } else {
        Err(corrupt("not a zstd frame with a content checksum"))
    };
    // Hash every byte even after an error, so that a modified file is reported as such rather
    // than as whatever its damage happened to break first. (What the decoder buffered was
    // hashed when it was read.)
    let drained = io::copy(&mut source, &mut io::sink());
    drained.map_err(PayloadError::Read)?;
    if source.len != len {
        return Err(PayloadError::Truncated);
    }
    if !hex(&source.hasher.finalize()).eq_ignore_ascii_case(hash) {
        return Err(PayloadError::Mismatch);
    }
    unpacked
}

/// The directories and regular files under `dir`, parents first, each directory's entries in
/// byte order so that the same tree always packs to the same bytes.
fn walk(
    dir: &Path,
    rel: &mut Vec<u8>,
    out: &mut Vec<(Vec<u8>, PathBuf, fs::Metadata)>,
) -> io::Result<()> {
    let mut children: Vec<_> = fs::read_dir(dir)
        .map_err(|e| with_path(dir, e))?
        .collect::<io::Result<_>>()
        .map_err(|e| with_path(dir, e))?;
    children.sort_by_key(|c| c.file_name());
    for child in children {
        let path = child.path();
        let meta = fs::symlink_metadata(&path).map_err(|e| with_path(&path, e))?;
        let len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(child.file_name().as_bytes());
        if meta.is_dir() {
            out.push((rel.clone(), path.clone(), meta));
            walk(&path, rel, out)?;
        } else if meta.is_file() {
            out.push((rel.clone(), path, meta));
        } else {
            return Err(with_path(
                &path,
                io::Error::other("only directories and regular files can be packed"),
            ));
        }
        rel.truncate(len);
    }
    Ok(())
}

fn file_digest(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = File::open(path).map_err(|e| with_path(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(with_path(path, e)),
        }
    }
    Ok(hasher.finalize().into())
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

struct Entry {
    path: PathBuf,
    mode: u16,
    blob: Option<u32>,
}

fn corrupt(what: &str) -> PayloadError {
    PayloadError::Corrupt(what.to_string())
}

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), PayloadError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => corrupt("the index ends early"),
        _ => PayloadError::Corrupt(e.to_string()),
    })
}

fn extract(r: &mut impl Read, dest: &Path) -> Result<Unpacked, PayloadError> {
    let mut header = [0u8; 16];
    read_exact(r, &mut header)?;
    if &header[..8] != MAGIC {
        return Err(corrupt("not a kiln payload"));
    }
    let entry_count = u32::from_le_bytes(header[8..12].try_into().unwrap());
    let blob_count = u32::from_le_bytes(header[12..16].try_into().unwrap());
    if entry_count > MAX_COUNT || blob_count > MAX_COUNT {
        return Err(corrupt("index size"));
    }
    let mut entries = Vec::with_capacity(entry_count.min(1 << 16) as usize);
    for _ in 0..entry_count {
        let mut fixed = [0u8; 9];
        read_exact(r, &mut fixed)?;
        let mode = u16::from_le_bytes([fixed[1], fixed[2]]);
        let path_len = u16::from_le_bytes([fixed[3], fixed[4]]);
        let blob = u32::from_le_bytes(fixed[5..9].try_into().unwrap());
        let mut path = vec![0u8; usize::from(path_len)];
        read_exact(r, &mut path)?;
        let path = relative_path(&path).ok_or_else(|| corrupt("a path leaves its directory"))?;
        let blob = match fixed[0] {
            KIND_DIR => None,
            KIND_FILE if blob < blob_count => Some(blob),
            KIND_FILE => return Err(corrupt("a file names a missing blob")),
            _ => return Err(corrupt("unknown entry kind")),
        };
        entries.push(Entry { path, mode, blob });
    }
    let mut lens = Vec::with_capacity(blob_count.min(1 << 16) as usize);
    for _ in 0..blob_count {
        let mut len = [0u8; 8];
        read_exact(r, &mut len)?;
        lens.push(u64::from_le_bytes(len));
    }

    let mut unpacked = Unpacked {
        dirs: 0,
        files: 0,
        bytes: 0,
        paths: entries.iter().map(|e| e.path.clone()).collect(),
    };
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); lens.len()];
    for (i, entry) in entries.iter().enumerate() {
        match entry.blob {
            Some(blob) => users[blob as usize].push(i),
            None => {
                let path = dest.join(&entry.path);
                DirBuilder::new()
                    .mode(u32::from(entry.mode) & 0o755 | 0o700)
                    .create(&path)
                    .map_err(|e| PayloadError::Write(path, e))?;
                unpacked.dirs += 1;
            }
        }
    }
    let mut buf = vec![0u8; COPY_BUF];
    for (len, users) in lens.iter().zip(&users) {
        let Some((&first, others)) = users.split_first() else {
            copy_exact(r, &mut io::sink(), *len, &mut buf, Path::new(""))?;
            continue;
        };
        let first_path = dest.join(&entries[first].path);
        let mut file = create_file(&first_path, entries[first].mode)?;
        copy_exact(r, &mut file, *len, &mut buf, &first_path)?;
        drop(file);
        for &other in others {
            let path = dest.join(&entries[other].path);
            let mut to = create_file(&path, entries[other].mode)?;
            File::open(&first_path)
                .and_then(|mut from| io::copy(&mut from, &mut to))
                .map_err(|e| PayloadError::Write(path, e))?;
        }
        unpacked.files += users.len();
        unpacked.bytes += len * users.len() as u64;
    }
    Ok(unpacked)
}

fn create_file(path: &Path, mode: u16) -> Result<File, PayloadError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(u32::from(mode) & 0o755 | 0o600)
        .open(path)
        .map_err(|e| PayloadError::Write(path.to_path_buf(), e))
}

/// Moves exactly `len` bytes from the decompressed stream to `to`.
fn copy_exact(
    r: &mut impl Read,
    to: &mut impl Write,
    mut len: u64,
    buf: &mut [u8],
    path: &Path,
) -> Result<(), PayloadError> {
    while len > 0 {
        let want = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => return Err(corrupt("the data ends early")),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PayloadError::Corrupt(e.to_string())),
        };
        to.write_all(&buf[..n])
            .map_err(|e| PayloadError::Write(path.to_path_buf(), e))?;
        len -= n as u64;
    }
    Ok(())
}

fn expect_end(r: &mut impl Read) -> Result<(), PayloadError> {
    let mut byte = [0u8; 1];
    match r.read(&mut byte) {
        Ok(0) => Ok(()),
        Ok(_) => Err(corrupt("data after the last file")),
        Err(e) => Err(PayloadError::Corrupt(e.to_string())),
    }
}

/// `path` as a relative path that stays inside the directory it is joined to.
fn relative_path(path: &[u8]) -> Option<PathBuf> {
    let ok = !path.is_empty()
        && path
            .split(|&b| b == b'/')
            .all(|part| !part.is_empty() && part != b"." && part != b".." && !part.contains(&0));
    ok.then(|| PathBuf::from(OsStr::from_bytes(path)))
}

/// SHA-256 of `len` bytes of `file` from offset `start`, lowercase hex.
pub fn hash_range(file: &File, start: u64, len: u64) -> io::Result<String> {
    use std::os::unix::fs::FileExt;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; COPY_BUF];
    let mut done = 0u64;
    while done < len {
        let want = buf
            .len()
            .min(usize::try_from(len - done).unwrap_or(usize::MAX));
        let n = match file.read_at(&mut buf[..want], start + done) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("kiln-bundle-payload-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn put(root: &Path, rel: &str, content: &[u8], mode: u32) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A small bundle-like tree: nested and empty directories, an executable, duplicates, an
    /// empty file and a file larger than the copy buffer.
    fn sample_tree(root: &Path) {
        let big: Vec<u8> = (0..(COPY_BUF * 3 + 17) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        put(root, "_kiln/bin/python3.11", b"\x7fELF interpreter", 0o755);
        put(root, "_kiln/bin/python", b"\x7fELF launcher", 0o755);
        put(root, "_kiln/lib/libpython3.11.so.1.0", &big, 0o644);
        put(
            root,
            "_kiln/lib/python3.11/os.pyc",
            b"bytecode of os",
            0o644,
        );
        put(
            root,
            "_kiln/lib/python3.11/site-packages/a/LICENSE",
            b"MIT",
            0o644,
        );
        put(
            root,
            "_kiln/lib/python3.11/site-packages/b/LICENSE",
            b"MIT",
            0o600,
        );
        put(
            root,
            "_kiln/lib/python3.11/site-packages/a/__init__.pyc",
            b"",
            0o644,
        );
        put(
            root,
            "_kiln/lib/python3.11/site-packages/b/__init__.pyc",
            b"",
            0o644,
        );
        fs::create_dir_all(root.join("_kiln/lib/python3.11/empty")).unwrap();
    }

    /// Every path under `root` with its mode and content (None for directories).
    fn snapshot(root: &Path) -> BTreeMap<String, (u32, Option<Vec<u8>>)> {
        let mut walked = Vec::new();
        walk(root, &mut Vec::new(), &mut walked).unwrap();
        walked
            .into_iter()
            .map(|(rel, path, meta)| {
                let content = meta.is_file().then(|| fs::read(&path).unwrap());
                (
                    String::from_utf8(rel).unwrap(),
                    (meta.permissions().mode() & 0o777, content),
                )
            })
            .collect()
    }

    fn packed_sample(name: &str) -> (TempDir, Vec<u8>, Packed) {
        let tmp = TempDir::new(name);
        let src = tmp.0.join("src");
        sample_tree(&src);
        let mut out = Vec::new();
        let packed = pack(
            &src,
            &mut out,
            &PackOptions {
                level: 3,
                threads: 2,
            },
        )
        .unwrap();
        (tmp, out, packed)
    }

    fn unpack_into(
        tmp: &TempDir,
        name: &str,
        bytes: &[u8],
        len: u64,
        hash: &str,
    ) -> (PathBuf, Result<Unpacked, PayloadError>) {
        let dest = tmp.0.join(name);
        fs::create_dir(&dest).unwrap();
        let result = unpack(bytes, len, hash, &dest);
        (dest, result)
    }

    #[test]
    fn round_trip_keeps_contents_and_modes_and_stores_duplicates_once() {
        let (tmp, bytes, packed) = packed_sample("round-trip");
        assert_eq!(packed.len, bytes.len() as u64);
        assert_eq!(packed.hash, hex(&Sha256::digest(&bytes)));
        assert_eq!(packed.files, 8);
        assert_eq!(
            packed.blobs, 6,
            "the two LICENSE and the two empty files are stored once"
        );

        let (dest, result) = unpack_into(&tmp, "dest", &bytes, packed.len, &packed.hash);
        let unpacked = result.unwrap();
        assert_eq!(unpacked.files, packed.files);
        assert_eq!(unpacked.dirs, packed.dirs);
        assert_eq!(unpacked.bytes, packed.bytes);
        assert_eq!(snapshot(&tmp.0.join("src")), snapshot(&dest));

        // The same tree packs to the same bytes.
        let mut again = Vec::new();
        let options = PackOptions {
            level: 3,
            threads: 1,
        };
        pack(&tmp.0.join("src"), &mut again, &options).unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn truncated_payloads_are_detected() {
        let (tmp, bytes, packed) = packed_sample("truncated");
        for (i, cut) in [0, 10, bytes.len() / 2, bytes.len() - 1]
            .into_iter()
            .enumerate()
        {
            let (_, result) = unpack_into(
                &tmp,
                &format!("d{i}"),
                &bytes[..cut],
                packed.len,
                &packed.hash,
            );
            assert!(
                matches!(result, Err(PayloadError::Truncated)),
                "cut at {cut}: {result:?}"
            );
        }
    }

    #[test]
    fn modified_payloads_fail_verification() {
        let (tmp, bytes, packed) = packed_sample("tampered");
        for (i, at) in [0, 5, bytes.len() / 2, bytes.len() - 1]
            .into_iter()
            .enumerate()
        {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            let (_, result) =
                unpack_into(&tmp, &format!("d{i}"), &damaged, packed.len, &packed.hash);
            assert!(
                matches!(result, Err(PayloadError::Mismatch)),
                "byte {at}: {result:?}"
            );
        }
        let wrong = "0".repeat(64);
        let (_, result) = unpack_into(&tmp, "wrong-hash", &bytes, packed.len, &wrong);
        assert!(matches!(result, Err(PayloadError::Mismatch)), "{result:?}");
    }

    fn checksummed_frame(data: &[u8]) -> Vec<u8> {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        encoder.include_checksum(true).unwrap();
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn resigned_payloads_are_caught_by_the_content_checksum() {
        let (tmp, bytes, packed) = packed_sample("resigned");
        // Changed bytes with a hash recomputed to match them: the trailer's hash no longer
        // protects anything, the frame's own checksum still does.
        let mut caught = 0;
        for (i, at) in (20..bytes.len() - 4).step_by(bytes.len() / 12).enumerate() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            let hash = hex(&Sha256::digest(&damaged));
            let (_, result) = unpack_into(&tmp, &format!("d{i}"), &damaged, packed.len, &hash);
            assert!(
                result.is_err(),
                "byte {at} changed and re-signed: {result:?}"
            );
            caught += 1;
        }
        assert!(caught > 3);
        // A frame without a checksum is refused outright.
        let plain = zstd::encode_all(&b"KILNPAK1\0\0\0\0\0\0\0\0"[..], 3).unwrap();
        let hash = hex(&Sha256::digest(&plain));
        let (_, result) = unpack_into(&tmp, "plain", &plain, plain.len() as u64, &hash);
        assert!(
            matches!(&result, Err(PayloadError::Corrupt(why)) if why.contains("checksum")),
            "{result:?}"
        );
    }

    #[test]
    fn paths_that_leave_the_destination_are_refused() {
        let tmp = TempDir::new("escape");
        for evil in ["../escaped", "/tmp/escaped", "a/../../escaped", "a//b", ""] {
            let mut index = Vec::new();
            index.extend_from_slice(MAGIC);
            index.extend_from_slice(&1u32.to_le_bytes());
            index.extend_from_slice(&1u32.to_le_bytes());
            index.push(KIND_FILE);
            index.extend_from_slice(&0o644u16.to_le_bytes());
            index.extend_from_slice(&(evil.len() as u16).to_le_bytes());
            index.extend_from_slice(&0u32.to_le_bytes());
            index.extend_from_slice(evil.as_bytes());
            index.extend_from_slice(&4u64.to_le_bytes());
            index.extend_from_slice(b"evil");
            let bytes = checksummed_frame(&index);
            let hash = hex(&Sha256::digest(&bytes));
            let dest = tmp.0.join("inner/dest");
            fs::create_dir_all(&dest).unwrap();
            let result = unpack(&bytes[..], bytes.len() as u64, &hash, &dest);
            assert!(
                matches!(&result, Err(PayloadError::Corrupt(_))),
                "{evil:?}: {result:?}"
            );
            assert!(!tmp.0.join("inner/escaped").exists());
            assert!(!tmp.0.join("escaped").exists());
            assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
            fs::remove_dir_all(tmp.0.join("inner")).unwrap();
        }
    }

    #[test]
    fn symlinks_cannot_be_packed() {
        let tmp = TempDir::new("symlink");
        let src = tmp.0.join("src");
        fs::create_dir_all(&src).unwrap();
        std::os::unix::fs::symlink("elsewhere", src.join("link")).unwrap();
        let options = PackOptions {
            level: 1,
            threads: 1,
        };
        let err = pack(&src, &mut Vec::new(), &options).unwrap_err();
        assert!(err.to_string().contains("link"), "{err}");
    }
}
