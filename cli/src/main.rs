//! The `netsem` command line; see `netsem --help`.

fn main() {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = netsem::run(std::env::args_os(), &mut stdout.lock(), &mut stderr.lock());
    std::process::exit(code);
}
