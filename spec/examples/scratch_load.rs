fn main() {
    for f in std::env::args().skip(1) {
        match netsem_spec::manifest::load_state(&[&f], Default::default()) {
            Ok((s, w)) => { println!("{f}: OK {} pods; warnings {:?}", s.pods().count(), w); }
            Err(e) => println!("{f}: ERR {e}"),
        }
    }
}
