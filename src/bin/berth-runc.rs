//! `berth-runc`: berth's runtime with runc's command line (see `berth::runtime::runc`).

fn main() {
    berth::runtime::runc::main()
}
