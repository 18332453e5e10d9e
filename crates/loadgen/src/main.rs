//! `loadgen`: see the library's documentation, or `loadgen --help`.

fn main() -> std::process::ExitCode {
    loadgen::main()
}
