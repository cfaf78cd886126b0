//! The migrations in `sql/` are embedded at compile time; a new or changed file there
//! must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=sql");
}
