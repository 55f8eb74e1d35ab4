//! Imports made from compiled code. A Cython or mypyc extension module imports other modules
//! from C, so no parser sees them; their names are string constants in the binary. This scans
//! an extension module for dotted names under the given top-level packages.

use std::collections::BTreeSet;
use std::path::Path;

use rustc_hash::FxHashSet as HashSet;

/// Names found in an extension module's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CompiledNames {
    /// Dotted names that start with one of the prefixes.
    pub dotted: Vec<String>,
    /// Which of the exact names occur as whole tokens.
    pub exact: Vec<String>,
    /// Which of the standalone names occur as whole C strings (NUL on both sides), as Cython
    /// 3.0 and older store the names a module imports.
    pub standalone: Vec<String>,
    /// Dotted names under other top-level packages that are whole strings of a Cython
    /// module's decompressed table (`pandas._libs.tslibs.offsets` imports `dateutil.easter`).
    pub foreign: Vec<String>,
    /// Runs of name characters holding a dot, from a Cython module's strings read without
    /// their lengths (end to end, so a run may join several strings: `npnumpynumpy.random`).
    /// Which modules they name takes knowing which exist (the resolver's part).
    pub joined_runs: Vec<String>,
    /// Exact, standalone and private names that may be whole strings of a module's strings read
    /// end to end ([`whole_in_sorted`]): a guess, as the names' order allows it.
    pub joined_names: Vec<String>,
    /// The binary keeps its string constants compressed (Cython 3.2+) in a way kiln could not
    /// read, so the names it imports cannot be seen.
    pub hides_strings: bool,
}

/// What Cython's string-table decompression reports on failure; only a module whose
/// strings are compressed carries one: Cython 3.1, then 3.2 (which words it differently).
const COMPRESSED_STRINGS_MARKS: &[&[u8]] = &[
    b"string data decompression failed",
    b"cannot initialise module strings",
];

impl CompiledNames {
    /// Adds what a decompressed string table (`strings`, NUL-separated) names: the module's
    /// strings are no longer hidden.
    fn add_strings(
        &mut self,
        strings: &[u8],
        prefixes: &[String],
        exact: &[String],
        standalone: &[String],
    ) {
        let merge = |into: &mut Vec<String>, more: Vec<String>| {
            for name in more {
                if !into.contains(&name) {
                    into.push(name);
                }
            }
        };
        merge(&mut self.dotted, names_in_bytes(strings, prefixes));
        merge(&mut self.exact, exact_names_in_bytes(strings, exact));
        merge(
            &mut self.standalone,
            c_strings_in_bytes(strings, standalone),
        );
        let own = |s: &str| prefixes.iter().any(|p| s.starts_with(p.as_str()));
        let foreign: BTreeSet<String> = strings
            .split(|&b| b == 0)
            .filter_map(|s| std::str::from_utf8(s).ok())
            .filter(|s| s.contains('.') && !own(s) && is_dotted_name(s))
            .filter(|s| !CYTHON_RUNTIME_NAMES.contains(s))
            .map(str::to_string)
            .collect();
        self.foreign = foreign.into_iter().collect();
        self.hides_strings = false;
    }

    /// Adds what a decompressed block of strings without its table of lengths (`joined`, the
    /// strings end to end) names: the runs that hold dotted names, and each wanted bare name
    /// that occurs where the table's order allows a whole string (see [`whole_in_sorted`]).
    fn add_joined(
        &mut self,
        joined: &[u8],
        exact: &[String],
        standalone: &[String],
        private: &[String],
    ) {
        for names in [exact, standalone, private] {
            for name in whole_names_in_sorted(joined, names) {
                if !self.joined_names.contains(&name) {
                    self.joined_names.push(name);
                }
            }
        }
        self.joined_runs = dotted_runs(joined);
        self.hides_strings = false;
    }
}

/// At most this many runs are kept from one block (a module's docstrings can hold thousands of
/// dotted words).
const MAX_RUNS: usize = 4096;
/// How much of a run is kept before a dot (a top-level name at most this long) and after it.
const BEFORE_DOT: usize = 64;
const AFTER_DOT: usize = 256;

/// The runs of name characters (`[A-Za-z0-9_.]`) in `joined` around each dot that follows a
/// name character: from at most [`BEFORE_DOT`] bytes before the dot (not past the dot before
/// it) to at most [`AFTER_DOT`] bytes after it, so that each run's first dot is the one it was
/// cut for. Each once, in order. A module's names sort together into one long run.
fn dotted_runs(joined: &[u8]) -> Vec<String> {
    let is_name_byte = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.';
    let mut seen = HashSet::default();
    let mut runs = Vec::new();
    for run in joined.split(|b| !is_name_byte(b)) {
        let mut segment_start = 0;
        for dot in memchr::memchr_iter(b'.', run) {
            let start = segment_start.max(dot.saturating_sub(BEFORE_DOT));
            segment_start = dot + 1;
            if start == dot {
                continue;
            }
            let end = run.len().min(dot + AFTER_DOT);
            let window = &run[start..end];
            let window = &window[..window.iter().rposition(|&b| b != b'.').map_or(0, |e| e + 1)];
            // A name character after the dot.
            if window.get(dot - start + 1).is_none_or(|&b| b == b'.') {
                continue;
            }
            // Only ASCII bytes are in a run.
            let window = String::from_utf8_lossy(window).into_owned();
            if seen.insert(window.clone()) {
                runs.push(window);
                if runs.len() == MAX_RUNS {
                    return runs;
                }
            }
        }
    }
    runs
}

/// Whether `name` may be a whole string of `joined`, a Cython module's strings end to end
/// without their lengths. Cython orders a module's names by the C names it gives them: the name
/// without leading underscores, dots as underscores. So the string that follows a whole name
/// sorts at or after it: an occurrence counts when the text after it does (or the block, or
/// a C string, ends there). `re` in `__reduce__` is followed by `duce__`, which sorts before
/// it, so it is no whole string; `tempfile` followed by `tp_new` could be one.
pub fn whole_in_sorted(joined: &[u8], name: &[u8]) -> bool {
    memchr::memmem::find_iter(joined, name).any(|at| sorts_before_what_follows(joined, name, at))
}

/// Which of `names` may be whole strings of `joined` ([`whole_in_sorted`]), found in one pass.
fn whole_names_in_sorted(joined: &[u8], names: &[String]) -> Vec<String> {
    let Ok(automaton) = aho_corasick::AhoCorasick::new(names) else {
        return Vec::new();
    };
    let mut whole = vec![false; names.len()];
    for m in automaton.find_overlapping_iter(joined) {
        let i = m.pattern().as_usize();
        if !whole[i] && sorts_before_what_follows(joined, names[i].as_bytes(), m.start()) {
            whole[i] = true;
        }
    }
    names
        .iter()
        .zip(whole)
        .filter(|(_, w)| *w)
        .map(|(n, _)| n.clone())
        .collect()
}

/// Whether `name`, found at `at` in `joined`, sorts at or before the text after it.
fn sorts_before_what_follows(joined: &[u8], name: &[u8], at: usize) -> bool {
    let key = |b: u8| if b == b'.' { b'_' } else { b };
    let own = name
        .iter()
        .position(|&b| b != b'_')
        .map_or(&[][..], |s| &name[s..]);
    if own.is_empty() {
        return false;
    }
    let after = &joined[at + name.len()..];
    let start = after.iter().position(|&b| b != b'_').unwrap_or(after.len());
    let next = &after[start..];
    if next.first().is_none_or(|&b| b == 0) {
        return true;
    }
    for (i, &b) in own.iter().enumerate() {
        match next.get(i).map(|&n| key(n)) {
            // The text ends (or a C string does) inside the name: the next string is a
            // prefix of it, and sorts before it.
            None | Some(0) => return false,
            Some(n) if n != key(b) => return n > key(b),
            _ => {}
        }
    }
    true
}

/// Names in every Cython module's table that its runtime support code imports only on demand,
/// not the module: a compiled function's `_is_coroutine` reads `asyncio.coroutines` when
/// asyncio asks whether it is a coroutine function (asyncio is loaded by then).
const CYTHON_RUNTIME_NAMES: &[&str] = &["asyncio.coroutines"];

/// Whether `name` is one that every Cython module's runtime names without importing it.
pub fn is_runtime_name(name: &str) -> bool {
    CYTHON_RUNTIME_NAMES.contains(&name)
}

/// `a.b_c.d`: identifiers joined by dots.
fn is_dotted_name(s: &str) -> bool {
    s.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Reads `path` once and looks for dotted names under `prefixes` (each like `numpy.`) and for
/// whole-token occurrences of `exact` names; `standalone` names count as whole C strings, and
/// `private` ones (the standard library's `_json`, too common as plain C strings) as whole
/// strings of a decompressed Cython table.
pub fn scan_binary(
    path: &Path,
    prefixes: &[String],
    exact: &[String],
    standalone: &[String],
    private: &[String],
) -> std::io::Result<CompiledNames> {
    // One buffer per thread, reused: a fresh one per file had every page of every binary
    // zeroed by the kernel before the read filled it.
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let found = BUFFER.with_borrow_mut(|bytes| {
        bytes.clear();
        let rodata = read_string_sections(&std::fs::File::open(path)?, bytes)?;
        let bytes: &[u8] = bytes;
        let mut found = CompiledNames {
            dotted: names_in_bytes(bytes, prefixes),
            exact: exact_names_in_bytes(bytes, exact),
            standalone: c_strings_in_bytes(bytes, standalone),
            foreign: Vec::new(),
            joined_runs: Vec::new(),
            joined_names: Vec::new(),
            hides_strings: COMPRESSED_STRINGS_MARKS
                .iter()
                .any(|mark| memchr::memmem::find(bytes, mark).is_some()),
        };
        if found.hides_strings {
            let region = rodata.unwrap_or_else(|| Region::whole(bytes));
            match cython_strings(bytes, region) {
                Some(CythonStrings::Split(strings)) => {
                    found.add_strings(&strings, prefixes, exact, standalone);
                    let private = c_strings_in_bytes(&strings, private);
                    found.standalone.extend(private);
                }
                Some(CythonStrings::Joined(joined)) => {
                    found.add_joined(&joined, exact, standalone, private)
                }
                None => {}
            }
        }
        Ok(found)
    });
    // A very large binary's buffer is not kept for the rest of the run.
    BUFFER.with_borrow_mut(|bytes| {
        if bytes.capacity() > 64 << 20 {
            *bytes = Vec::new();
        }
    });
    found
}

/// Where `.rodata` lies in a buffer read by [`read_string_sections`], and where in the file
/// (whose alignment Cython's tables keep).
#[derive(Debug, Clone)]
struct Region {
    at: std::ops::Range<usize>,
    file_offset: usize,
}

impl Region {
    /// All of `bytes`, for a file that is no ELF kiln can read.
    fn whole(bytes: &[u8]) -> Region {
        Region {
            at: 0..bytes.len(),
            file_offset: 0,
        }
    }
}

/// Reads into `into` the parts of the binary `file` that can hold string constants: its
/// allocated data sections that are not code, unwind tables or pointers (`.rodata`, `.data`),
/// each followed by a NUL; returns where `.rodata` went. A file that is no ELF kiln can read is
/// read whole (and no region is returned). Code is most of an extension module's bytes, and
/// no name an import uses lies there.
fn read_string_sections(
    file: &std::fs::File,
    into: &mut Vec<u8>,
) -> std::io::Result<Option<Region>> {
    use goblin::elf::section_header::{SectionHeader, SHF_ALLOC, SHF_EXECINSTR, SHT_PROGBITS};
    use std::io::Read;
    use std::os::unix::fs::FileExt;
    let whole = |into: &mut Vec<u8>| -> std::io::Result<Option<Region>> {
        into.clear();
        let mut file = file;
        file.read_to_end(into)?;
        Ok(None)
    };
    let size = file.metadata()?.len();
    let mut head = [0u8; 64];
    if file.read_exact_at(&mut head, 0).is_err() {
        return whole(into);
    }
    let Ok(header) = goblin::elf::Elf::parse_header(&head) else {
        return whole(into);
    };
    let (Ok(container), Ok(endianness)) = (header.container(), header.endianness()) else {
        return whole(into);
    };
    let ctx = goblin::container::Ctx::new(container, endianness);
    let table_len = u64::from(header.e_shnum) * u64::from(header.e_shentsize);
    if header.e_shnum == 0 || header.e_shoff.saturating_add(table_len) > size {
        return whole(into);
    }
    // One byte before the table: goblin takes a table at offset 0 for none.
    let mut table = vec![0u8; 1 + table_len as usize];
    file.read_exact_at(&mut table[1..], header.e_shoff)?;
    let Ok(sections) = SectionHeader::parse(&table, 1, usize::from(header.e_shnum), ctx) else {
        return whole(into);
    };
    let Some(names) = sections.get(usize::from(header.e_shstrndx)) else {
        return whole(into);
    };
    if names.sh_offset.saturating_add(names.sh_size) > size || names.sh_size > 1 << 20 {
        return whole(into);
    }
    let mut name_table = vec![0u8; names.sh_size as usize];
    file.read_exact_at(&mut name_table, names.sh_offset)?;
    let name_of = |s: &SectionHeader| -> &[u8] {
        let rest = name_table.get(s.sh_name..).unwrap_or_default();
        &rest[..memchr::memchr(0, rest).unwrap_or(rest.len())]
    };
    const NO_STRINGS: &[&[u8]] = &[
        b".eh_frame",
        b".gcc_except_table",
        b".got",
        b".init_array",
        b".fini_array",
        b".data.rel.ro",
        b".tm_clone_table",
    ];
    let mut rodata = None;
    into.clear();
    for s in &sections {
        let name = name_of(s);
        let wanted = s.sh_type == SHT_PROGBITS
            && s.sh_flags & u64::from(SHF_ALLOC) != 0
            && s.sh_flags & u64::from(SHF_EXECINSTR) == 0
            && !NO_STRINGS.iter().any(|n| name.starts_with(n));
        if !wanted || s.sh_size == 0 {
            continue;
        }
        if s.sh_offset.saturating_add(s.sh_size) > size {
            return whole(into);
        }
        let at = into.len();
        into.resize(at + s.sh_size as usize, 0);
        file.read_exact_at(&mut into[at..], s.sh_offset)?;
        if name == b".rodata" {
            rodata = Some(Region {
                at: at..into.len(),
                file_offset: s.sh_offset as usize,
            });
        }
        into.push(0);
    }
    Ok(rodata)
}

/// The `names` that occur in `bytes` as whole identifiers.
pub fn exact_names_in_bytes(bytes: &[u8], names: &[String]) -> Vec<String> {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    names
        .iter()
        .filter(|name| {
            memchr::memmem::find_iter(bytes, name.as_bytes()).any(|start| {
                let end = start + name.len();
                (start == 0 || !is_name_byte(bytes[start - 1]))
                    && bytes.get(end).is_none_or(|&b| !is_name_byte(b))
            })
        })
        .cloned()
        .collect()
}

/// The `names` that occur in `bytes` as a whole C string: a NUL before and after.
pub fn c_strings_in_bytes(bytes: &[u8], names: &[String]) -> Vec<String> {
    // One pass over the runs between NULs, not one search per name: extension modules run to
    // tens of MiB, and the standard library has hundreds of module names. Runs of NULs
    // (alignment padding, zeroed data) are skipped a word at a time, and a run is looked up only
    // when its length and first byte could be a wanted name's.
    let longest = names.iter().map(String::len).max().unwrap_or(0);
    let wanted: HashSet<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    let mut first = [false; 256];
    for name in names {
        if let Some(&b) = name.as_bytes().first() {
            first[b as usize] = true;
        }
    }
    let mut found = BTreeSet::new();
    let mut pos = match memchr::memchr(0, bytes) {
        Some(at) => at,
        None => return Vec::new(),
    };
    loop {
        pos = skip_nuls(bytes, pos);
        if pos >= bytes.len() {
            break;
        }
        // `bytes[pos]` is not NUL and `bytes[pos - 1]` is.
        let Some(len) = memchr::memchr(0, &bytes[pos..]) else {
            break;
        };
        let segment = &bytes[pos..pos + len];
        if len <= longest && first[segment[0] as usize] && wanted.contains(segment) {
            found.insert(String::from_utf8_lossy(segment).into_owned());
        }
        pos += len;
    }
    names
        .iter()
        .filter(|n| found.contains(*n))
        .cloned()
        .collect()
}

/// The first position at or after `pos` that holds a byte other than NUL (or the length).
fn skip_nuls(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && bytes[pos] == 0 {
        if pos.is_multiple_of(8) {
            // Whole zero words at once.
            while let Some(word) = bytes.get(pos..pos + 8) {
                if word != [0u8; 8] {
                    break;
                }
                pos += 8;
            }
            if pos >= bytes.len() || bytes[pos] != 0 {
                break;
            }
        }
        pos += 1;
    }
    pos
}

pub fn names_in_bytes(bytes: &[u8], prefixes: &[String]) -> Vec<String> {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut found = BTreeSet::new();
    for prefix in prefixes {
        for start in memchr::memmem::find_iter(bytes, prefix.as_bytes()) {
            if start > 0 && is_name_byte(bytes[start - 1]) {
                continue;
            }
            let end = bytes[start..]
                .iter()
                .position(|&b| !is_name_byte(b))
                .map_or(bytes.len(), |n| start + n);
            let Ok(token) = std::str::from_utf8(&bytes[start..end]) else {
                continue;
            };
            let token = token.trim_end_matches('.');
            let valid = token.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            });
            if valid && token.len() > prefix.len() {
                found.insert(token.to_string());
            }
        }
    }
    found.into_iter().collect()
}

/// What Cython 3.3's decompression reports on failure: its modules keep their strings
/// LZSS-compressed (3.2 uses zlib, through the `zlib` module).
const LZSS_MARK: &[u8] = b"LZSS string data decompression failed";

/// A length in Cython's table is at most this (it is a bit field of an `unsigned int`, sized
/// for the longest string); a larger word is not part of a table.
const LONGEST_STRING: u32 = 1 << 24;

/// How many bytes decoding one compressed block may give at most.
const DECODED_LIMIT: usize = 16 << 20;

/// A Cython 3.2+ module's string constants, decompressed.
#[derive(Debug, PartialEq, Eq)]
pub enum CythonStrings {
    /// Split by their table of lengths: whole C strings (each with a NUL before and after).
    Split(Vec<u8>),
    /// End to end: no table of lengths was found (the compiler built a small module's table in
    /// code, with stores of immediates, rather than in read-only data).
    Joined(Vec<u8>),
}

/// The string constants of a Cython 3.2+ module, read from its binary (`region` of `bytes` is
/// its `.rodata`), or None when no block of them decompresses.
///
/// Such a module keeps all its strings end to end in one block, compressed (zlib in 3.2, LZSS
/// in 3.3), and splits them at start-up with a table of their lengths: arrays of 32-bit words
/// in its read-only data, one per string. The block is found by decompressing (a zlib stream
/// by its header; an LZSS block from each aligned position whose first token is a literal),
/// and the table as a run of small words whose sum is the block's length. A split is taken
/// only when it yields `__name__` as a whole string, which every module's table holds. Without
/// a split, the longest block that holds `__name__` is returned joined.
fn cython_strings(bytes: &[u8], region: Region) -> Option<CythonStrings> {
    let data = bytes.get(region.at.clone())?;
    // The lengths table: 32-bit little-endian words at 4-aligned file offsets.
    let skip = region.file_offset.next_multiple_of(4) - region.file_offset;
    let words: Vec<u32> = data
        .get(skip..)?
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    let mut blocks: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
    for start in memchr::memmem::find_iter(data, b"\x78\xda") {
        if let Some(out) = inflate(&data[start..]) {
            let total = out.len();
            blocks.push((out, vec![total]));
        }
    }
    if memchr::memmem::find(bytes, LZSS_MARK).is_some() {
        let first = region.file_offset.next_multiple_of(8) - region.file_offset;
        for start in (first..data.len()).step_by(8) {
            if data[start] & 1 == 0 {
                continue;
            }
            if let Some(block) = lzss(&data[start..]) {
                blocks.push(block);
            }
        }
    }
    // A block decoded from inside another, or a table's first lengths alone, may split too:
    // the longest split is the whole table.
    let split = blocks
        .iter()
        .filter_map(|(block, ends)| split_by_lengths(block, ends, &words))
        .max_by_key(Vec::len);
    match split {
        Some(strings) => Some(CythonStrings::Split(strings)),
        None => blocks
            .into_iter()
            .map(|(block, _)| block)
            .filter(|block| memchr::memmem::find(block, b"__name__").is_some())
            .max_by_key(Vec::len)
            .map(CythonStrings::Joined),
    }
}

/// A whole zlib stream at the start of `bytes`, decompressed.
fn inflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut z = flate2::Decompress::new(true);
    let mut out = Vec::with_capacity(64 << 10);
    loop {
        let before = z.total_out();
        let input = bytes.get(z.total_in() as usize..)?;
        let status = z
            .decompress_vec(input, &mut out, flate2::FlushDecompress::None)
            .ok()?;
        match status {
            flate2::Status::StreamEnd => return Some(out),
            _ if out.len() >= DECODED_LIMIT => return None,
            _ if out.len() == out.capacity() => out.reserve(out.len()),
            _ if z.total_out() == before => return None,
            _ => {}
        }
    }
}

/// Decodes Cython's LZSS from the start of `bytes` until a back reference points before the
/// start, the input ends or the output is too long. Returns what it decoded and the output
/// lengths at which the input that follows is a NUL (where a C string may have ended), or
/// None when that does not look like a module's strings.
fn lzss(bytes: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let mut out: Vec<u8> = Vec::new();
    let mut ends = Vec::new();
    let mut pos = 0;
    'decode: while out.len() < DECODED_LIMIT {
        let Some(&flags) = bytes.get(pos) else { break };
        pos += 1;
        for bit in 0..8 {
            if flags >> bit & 1 == 1 {
                let Some(&b) = bytes.get(pos) else {
                    break 'decode;
                };
                out.push(b);
                pos += 1;
            } else {
                let (Some(&lo), Some(&hi)) = (bytes.get(pos), bytes.get(pos + 1)) else {
                    break 'decode;
                };
                pos += 2;
                let (lo, hi) = (usize::from(lo), usize::from(hi));
                let (offset, length) = if lo & 0x80 == 0 {
                    (lo, hi)
                } else if hi & 0x80 == 0 {
                    (0x80 + (((hi << 2) & 0x180) | (lo & 0x7f)), hi & 0x1f)
                } else {
                    let Some(&n) = bytes.get(pos) else {
                        break 'decode;
                    };
                    pos += 1;
                    (0x80 + (((hi & 0x7f) << 7) | (lo & 0x7f)), usize::from(n))
                };
                let length = length + 3;
                let Some(from) = out.len().checked_sub(offset + length) else {
                    break 'decode;
                };
                for i in from..from + length {
                    out.push(out[i]);
                }
            }
            if bytes.get(pos) == Some(&0) {
                ends.push(out.len());
            }
        }
    }
    (!ends.is_empty() && memchr::memmem::find(&out, b"__name__").is_some()).then_some((out, ends))
}

/// Splits `block` by a run of `words` that sums to one of `ends` (the longest that works),
/// as NUL-separated strings; None when no run gives a split holding `__name__` whole.
fn split_by_lengths(block: &[u8], ends: &[usize], words: &[u32]) -> Option<Vec<u8>> {
    let wanted: rustc_hash::FxHashSet<u64> = ends.iter().map(|&e| e as u64).collect();
    let small = |w: u32| w < LONGEST_STRING;
    let mut found: Vec<(u64, usize, usize)> = Vec::new();
    for k in 0..words.len() {
        // A table starts a run of small words, or follows a zero (padding, or the empty
        // string, which sorts first), and its first words are not zero (a table holds at most
        // the empty text and the empty bytes).
        let starts = k == 0 || words[k - 1] == 0 || !small(words[k - 1]);
        if !starts || words[k..].iter().take(8).any(|&w| w == 0 || !small(w)) {
            continue;
        }
        let (mut sum, mut zeros) = (0u64, 0);
        for (e, &w) in words.iter().enumerate().skip(k) {
            if !small(w) || sum > block.len() as u64 {
                break;
            }
            if w == 0 {
                zeros += 1;
                if zeros > 1 {
                    break;
                }
            }
            sum += u64::from(w);
            if wanted.contains(&sum) {
                found.push((sum, k, e + 1));
            }
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().find_map(|(total, from, to)| {
        let mut joined = Vec::with_capacity(total as usize + (to - from) + 1);
        joined.push(0);
        let mut pos = 0;
        let mut has_name = false;
        for &w in &words[from..to] {
            let s = &block[pos..pos + w as usize];
            has_name |= s == b"__name__";
            joined.extend_from_slice(s);
            joined.push(0);
            pos += w as usize;
        }
        has_name.then_some(joined)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn compressed_strings_of_each_cython_release_are_recognised() {
        let tmp = tempfile::tempdir().unwrap();
        let scan = |bytes: &[u8]| {
            let path = tmp.path().join("m.so");
            std::fs::write(&path, bytes).unwrap();
            super::scan_binary(&path, &[], &[], &[], &[])
                .unwrap()
                .hides_strings
        };
        // Cython 3.1 and 3.2's messages, as their modules carry them.
        assert!(scan(b"\0zlib: string data decompression failed\0"));
        assert!(scan(
            b"\0Failed to import '%.20s.decompress' - cannot initialise module strings. \
              String compression was configured\0"
        ));
        assert!(!scan(b"\0PyInit_m\0numpy.core\0"));
    }

    /// Sorted strings of a module, as Cython orders them (text, then the interned names).
    const TABLE: &[&[u8]] = &[
        b"",
        b"numpy._core.multiarray failed to import",
        b"numpy.random",
        b"numpy.random._pickle",
        b"Generator.random",
        b"__main__",
        b"__name__",
        b"__test__",
        b"dateutil.easter",
        b"json",
        b"numpy",
        b"numpy.linalg",
        b"warnings",
    ];

    /// A binary as a C compiler lays out Cython's strings: the block (`compressed`), its
    /// C string's NUL, and the table of lengths as 32-bit words, among other read-only data.
    fn binary(compressed: &[u8], mark: &[u8]) -> Vec<u8> {
        let mut b = b"\x7fELF-like but not parsed\0".to_vec();
        b.extend_from_slice(mark);
        b.extend_from_slice(&[0; 3]);
        // Other data first: small words that are no table.
        for w in [3u32, 9, 27, 0, 5] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        while !b.len().is_multiple_of(8) {
            b.push(0);
        }
        b.extend_from_slice(compressed);
        b.push(0);
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        for s in TABLE {
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b
    }

    /// Cython 3.3's LZSS, greedily: two-byte back references within 127 bytes, else literals.
    fn lzss_encode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let flags_at = out.len();
            out.push(0u8);
            for bit in 0..8 {
                if pos >= data.len() {
                    break;
                }
                let best = (3..=127.min(pos))
                    .filter_map(|back| {
                        let from = pos - back;
                        let n = (0..(back).min(258))
                            .take_while(|&i| {
                                pos + i < data.len() && data[from + i] == data[pos + i]
                            })
                            .count();
                        (n >= 3).then_some((back, n))
                    })
                    .max_by_key(|&(_, n)| n);
                match best {
                    Some((back, n)) => {
                        // The offset counts from the end of the earlier occurrence.
                        out.push((back - n) as u8);
                        out.push((n - 3) as u8);
                        pos += n;
                    }
                    None => {
                        out[flags_at] |= 1 << bit;
                        out.push(data[pos]);
                        pos += 1;
                    }
                }
            }
        }
        out
    }

    fn strings_of(joined: &[u8]) -> Vec<&[u8]> {
        let inner = &joined[1..joined.len() - 1];
        inner.split(|&b| b == 0).collect()
    }

    #[test]
    fn a_cython_3_2_zlib_string_table_is_read_whole() {
        use std::io::Write;
        let concat: Vec<u8> = TABLE.concat();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&concat).unwrap();
        let bytes = binary(&z.finish().unwrap(), b"cannot initialise module strings");
        let Some(super::CythonStrings::Split(joined)) =
            super::cython_strings(&bytes, super::Region::whole(&bytes))
        else {
            panic!("the table is read");
        };
        // The empty string sorts first and has length 0: the split starts after it.
        assert_eq!(strings_of(&joined), &TABLE[1..]);
    }

    #[test]
    fn a_cython_3_3_lzss_string_table_is_read_whole() {
        let concat: Vec<u8> = TABLE.concat();
        let compressed = lzss_encode(&concat);
        assert!(compressed.len() < concat.len(), "the encoder refers back");
        let bytes = binary(&compressed, super::LZSS_MARK);
        let Some(super::CythonStrings::Split(joined)) =
            super::cython_strings(&bytes, super::Region::whole(&bytes))
        else {
            panic!("the table is read");
        };
        // The empty string sorts first and has length 0: the split starts after it.
        assert_eq!(strings_of(&joined), &TABLE[1..]);
        // Without its table the block cannot be split: its strings come end to end.
        let cut = bytes.len() - 4 * (TABLE.len() + 1);
        assert_eq!(
            super::cython_strings(&bytes[..cut], super::Region::whole(&bytes[..cut])),
            Some(super::CythonStrings::Joined(TABLE.concat()))
        );
    }

    /// Strings as a Cython module sorts them: texts first, then names by their C names.
    const SORTED: &[&str] = &[
        "numpy._core.multiarray failed to import",
        "SFC64",
        "__all__",
        "asyncio.coroutines",
        "bit_generator",
        "__class__",
        "__main__",
        "math",
        "__name__",
        "np",
        "numpy",
        "numpy.random._sfc64",
        "__reduce__",
        "self",
        "tempfile",
        "__test__",
        "uint64",
    ];

    #[test]
    fn names_in_joined_strings_are_read_by_their_order() {
        let joined = SORTED.concat().into_bytes();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut names = super::CompiledNames {
            hides_strings: true,
            ..Default::default()
        };
        names.add_joined(
            &joined,
            &strings(&["_sfc64"]),
            &strings(&["math", "tempfile", "re", "io", "os", "self"]),
            &strings(&["_json"]),
        );
        assert!(!names.hides_strings);
        // `re` only occurs in `__reduce__`, `io` in `asyncio`: what follows sorts before them.
        // `_sfc64` is followed by `__reduce__`, which sorts before it.
        assert_eq!(names.joined_names, ["math", "tempfile", "self"]);
        assert!(names.exact.is_empty() && names.standalone.is_empty());
        // A run for each dot: from the dot before it (or 64 bytes) to 256 bytes after it.
        assert_eq!(
            names.joined_runs,
            [
                "numpy._core.multiarray",
                "_core.multiarray",
                "importSFC64__all__asyncio.coroutinesbit_generator__class____main__math__name__npnumpynumpy.random._sfc64__reduce__selftempfile__test__uint64",
                "coroutinesbit_generator__class____main__math__name__npnumpynumpy.random._sfc64__reduce__selftempfile__test__uint64",
                "random._sfc64__reduce__selftempfile__test__uint64",
            ]
        );
        assert!(super::whole_in_sorted(&joined, b"uint64"));
        assert!(!super::whole_in_sorted(&joined, b"os"));
    }

    #[test]
    fn names_in_a_read_table_are_whole_strings() {
        let mut joined = vec![0u8];
        for s in TABLE {
            joined.extend_from_slice(s);
            joined.push(0);
        }
        let mut names = super::CompiledNames {
            hides_strings: true,
            ..Default::default()
        };
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        names.add_strings(
            &joined,
            &strings(&["numpy."]),
            &strings(&["_pickle"]),
            &strings(&["json", "warnings", "os"]),
        );
        assert!(!names.hides_strings);
        assert_eq!(
            names.dotted,
            [
                "numpy._core.multiarray",
                "numpy.linalg",
                "numpy.random",
                "numpy.random._pickle"
            ]
        );
        assert_eq!(names.standalone, ["json", "warnings"]);
        assert_eq!(names.foreign, ["Generator.random", "dateutil.easter"]);
    }

    /// A string constant of this test binary, in its `.rodata`.
    const MARKER: &str = "kiln_marker_in_read_only_data";

    #[test]
    fn only_the_data_sections_of_an_elf_binary_are_read() {
        let exe = std::env::current_exe().unwrap();
        let mut buffer = Vec::new();
        let file = std::fs::File::open(&exe).unwrap();
        let rodata = super::read_string_sections(&file, &mut buffer)
            .unwrap()
            .expect("an ELF binary has .rodata");
        let size = std::fs::metadata(&exe).unwrap().len() as usize;
        assert!(buffer.len() < size / 2, "{} of {size} bytes", buffer.len());
        let in_rodata = &buffer[rodata.at.clone()];
        assert!(memchr::memmem::find(in_rodata, MARKER.as_bytes()).is_some());
        // The same bytes as in the file, where the section lies.
        let mut in_file = vec![0u8; in_rodata.len()];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut in_file, rodata.file_offset as u64)
            .unwrap();
        assert!(in_file == in_rodata);
    }

    #[test]
    fn standalone_names_are_whole_c_strings() {
        let bytes = b"\0secrets\0http://example.org\0timeout\0json\0";
        let names: Vec<String> = ["secrets", "http", "time", "json", "os"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            super::c_strings_in_bytes(bytes, &names),
            ["secrets", "json"]
        );
    }

    proptest::proptest! {
        /// The word-at-a-time scan finds exactly what splitting at every NUL finds.
        #[test]
        fn whole_c_strings_match_a_plain_split(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![0u8, 0, 0, b'a', b'b', b'o', b's']), 0..200),
            names in proptest::collection::vec("[abos]{1,3}", 0..6),
        ) {
            let mut expected: Vec<String> = Vec::new();
            if let Some(first) = bytes.iter().position(|&b| b == 0) {
                let inner = &bytes[first + 1..];
                let mut parts: Vec<&[u8]> = inner.split(|&b| b == 0).collect();
                // The run after the last NUL has no NUL after it.
                parts.pop();
                for name in &names {
                    if parts.contains(&name.as_bytes()) && !expected.contains(name) {
                        expected.push(name.clone());
                    }
                }
            }
            let mut got = super::c_strings_in_bytes(&bytes, &names);
            got.dedup();
            let mut expected_in_order: Vec<String> =
                names.iter().filter(|n| expected.contains(n)).cloned().collect();
            expected_in_order.dedup();
            proptest::prop_assert_eq!(got, expected_in_order);
        }
    }

    #[test]
    fn finds_dotted_names_under_the_prefix() {
        let bytes = b"\0numpy._core._exceptions\0xnumpy.no\0numpy.\0numpy.linalg._umath_linalg.\0numpy.1bad\0";
        let names = super::names_in_bytes(bytes, &["numpy.".to_string()]);
        assert_eq!(
            names,
            ["numpy._core._exceptions", "numpy.linalg._umath_linalg"]
        );
    }
}
