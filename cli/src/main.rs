//! The `netsem` command line; see `netsem --help`.

use std::io::Write;

// Loading is allocation-bound: the profile of `explain` on 10,000 pods gave about a fifth of the
// time to glibc's malloc and free and to growing its per-thread heaps (page faults, `mprotect`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Standard output is line-buffered by default: one `write` per matrix line. A large buffer
    // makes the output bound by the pipe, not by syscalls; commands that answer interactively
    // (`serve`) flush after each response themselves.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let stderr = std::io::stderr();
    let code = netsem::run(std::env::args_os(), &mut out, &mut stderr.lock());
    // A closed pipe (`netsem matrix … | head`) is the reader's choice, not a failure.
    let flushed = out.flush();
    drop(out);
    if let Err(e) = flushed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = writeln!(std::io::stderr(), "error: writing standard output: {e}");
            std::process::exit(if code == 0 { 2 } else { code });
        }
    }
    std::process::exit(code);
}
