//! The pure core: no tokio, no postgres, no actix. Everything here is a value or a
//! function of values, so it can be tested exhaustively.

pub mod account;
pub mod canonical;
pub mod chain_read;
pub mod checkpoint;
pub mod commerce;
pub mod currency;
pub mod decide;
pub mod entry;
pub mod error;
pub mod event;
pub mod event_id;
pub mod hash;
pub mod ledger;
pub mod limits;
pub mod merkle;
pub mod money;
pub mod months;
pub mod posting;
pub mod rates;
pub mod reports;
pub mod role;
pub mod seq_buckets;
pub mod state;

pub use error::CoreError;

#[cfg(test)]
mod tests {
    /// The core stays pure: none of its files, in any folder, may name an I/O crate.
    #[test]
    fn core_imports_no_io_crates() {
        let mut folders = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core")];
        let mut files = 0;
        while let Some(dir) = folders.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for forbidden in [
                    "tokio",
                    "postgres",
                    "deadpool",
                    "actix",
                    "std::fs",
                    "std::net",
                    "std::process",
                ] {
                    let offending = text
                        .lines()
                        .any(|l| l.trim_start().starts_with("use ") && l.contains(forbidden));
                    assert!(!offending, "{} imports {forbidden}", path.display());
                }
            }
        }
        assert!(files > 20, "the walk found the core's files");
    }
}
