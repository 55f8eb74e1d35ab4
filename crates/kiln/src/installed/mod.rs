//! The environment as installed, read-only: distributions and their metadata, licences, and
//! ELF files. Both resolving the graph and collecting the bundle read it.

pub mod elf;
pub mod license;
pub mod metadata;
