//! The manifest judge: the loader, and an apply and delete of what it loads, never panic, hang
//! or grow without bound on any input — arbitrary text, or a shipped manifest under byte-level
//! mutations. Any outcome but a panic is fine.

use arbitrary::Arbitrary;
use netsem_spec::State;

/// Inputs larger than this are cut: nothing a fuzzer feeds may grow without bound.
pub const MAX_INPUT: usize = 64 * 1024;

/// The shipped examples' manifests, the bases of structure-aware mutations.
pub const SHIPPED: [&str; 14] = [
    include_str!("../../../examples/shop/00-namespaces.yaml"),
    include_str!("../../../examples/shop/backend/api.yaml"),
    include_str!("../../../examples/shop/backend/db.yaml"),
    include_str!("../../../examples/shop/backend/policies.yaml"),
    include_str!("../../../examples/shop/frontend/policies.yaml"),
    include_str!("../../../examples/shop/frontend/web.yaml"),
    include_str!("../../../examples/shop/kube-system/coredns.yaml"),
    include_str!("../../../examples/shop/monitoring/prometheus.yaml"),
    include_str!("../../../examples/admin-tiers/platform.yaml"),
    include_str!("../../../examples/multinet/tenants/networks.yaml"),
    include_str!("../../../examples/multinet/tenants/apps.yaml"),
    include_str!("../../../examples/multinet/lab/storage.yaml"),
    include_str!("../../../examples/multinet/lab/policies.yaml"),
    include_str!("../../../examples/multinet/kube-system/dns.yaml"),
];

/// One byte-level edit: replace `len` bytes at `at` (both taken modulo the text) with `with`.
#[derive(Clone, Debug, Arbitrary)]
pub struct Edit {
    /// Where, modulo the length.
    pub at: u16,
    /// How many bytes to replace, at most 16.
    pub len: u8,
    /// What to put there.
    pub with: Vec<u8>,
}

/// The manifest fuzzer's input.
#[derive(Clone, Debug, Arbitrary)]
pub enum ManifestInput {
    /// Any text.
    Text(String),
    /// A shipped manifest (by index, modulo their number) under at most eight edits.
    Mutated {
        /// Which shipped manifest.
        base: u8,
        /// The edits, in order.
        edits: Vec<Edit>,
    },
}

impl ManifestInput {
    /// The text the loader reads.
    pub fn text(&self) -> String {
        match self {
            ManifestInput::Text(t) => t.chars().take(MAX_INPUT).collect(),
            ManifestInput::Mutated { base, edits } => {
                let mut doc = SHIPPED[usize::from(*base) % SHIPPED.len()]
                    .as_bytes()
                    .to_vec();
                for e in edits.iter().take(8) {
                    if doc.is_empty() {
                        break;
                    }
                    let at = usize::from(e.at) % doc.len();
                    let len = usize::from(e.len % 17).min(doc.len() - at);
                    let with = &e.with[..e.with.len().min(16)];
                    doc.splice(at..at + len, with.iter().copied());
                }
                doc.truncate(MAX_INPUT);
                String::from_utf8_lossy(&doc).into_owned()
            }
        }
    }
}

/// `manifest`: load, apply, delete; only a panic (or a hang, caught by the fuzzer) is wrong.
pub fn manifest(input: &ManifestInput) {
    if let Ok(m) = netsem_spec::manifest::parse_str("fuzz.yaml", &input.text()) {
        let mut state = State::default();
        let _ = m.apply(&mut state);
        let _ = m.delete(&mut state);
    }
}
