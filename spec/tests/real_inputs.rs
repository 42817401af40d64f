//! What clusters and tools actually produce (data under `tests/manifests/real/`, see its
//! README): typed lists, kubectl's YAML, API-server wording, host-network pods without Nodes,
//! and the kinds read for real inputs (docs/MANIFESTS.md).

use netsem_spec::manifest::{self, LoadError, Manifest, Object};
use netsem_spec::{PodId, State};
use std::path::{Path, PathBuf};

fn real(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests/real")
        .join(rel)
}

fn load(rel: &str) -> Manifest {
    manifest::load_paths(&[real(rel)]).unwrap_or_else(|e| panic!("{e}"))
}

fn broken(rel: &str) -> LoadError {
    match manifest::load_paths(&[real(rel)]) {
        Ok(m) => panic!("{rel} loaded: {:?}", m.objects),
        Err(e) => e,
    }
}

fn pods(m: &Manifest) -> Vec<String> {
    m.objects
        .iter()
        .filter_map(|(_, o)| match o {
            Object::Pod { pod, .. } => Some(pod.id.to_string()),
            _ => None,
        })
        .collect()
}

fn state(m: &Manifest) -> State {
    let mut s = State::default();
    m.apply(&mut s).unwrap_or_else(|e| panic!("{e}"));
    s
}

fn addresses(s: &State, pod: &str) -> Vec<String> {
    s.lookup_pod_2_address_mappings(&pod.parse().unwrap())
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect()
}

// ----- typed lists (rule 9.3) ---------------------------------------------------------------

#[test]
fn r9_3_typed_list_items_take_their_kind_from_the_list() {
    // `kubectl get --raw /api/v1/pods`: a PodList whose items have no kind or apiVersion.
    let m = load("raw-api-v1-pods.json");
    assert_eq!(m.warnings, Vec::<String>::new());
    let p = pods(&m);
    assert!(p.contains(&"kube-system/coredns-7db6d8ff4d-5x2qg".to_string()), "{p:?}");
    assert!(p.len() >= 3, "{p:?}");
    for (o, _) in &m.objects {
        assert_eq!(o.kind, "Pod");
    }
    // A NetworkPolicyList: items are networking.k8s.io/v1 NetworkPolicies.
    let m = load("raw-apis-networking-v1-networkpolicies.json");
    assert!(m
        .objects
        .iter()
        .all(|(o, x)| o.kind == "NetworkPolicy" && matches!(x, Object::NetworkPolicy(_))));
    assert!(!m.objects.is_empty());
    // What kubectl prints: a `kind: List` whose items name their kinds, YAML and JSON alike.
    let yaml = load("kubectl-get-pods-svc-netpol-ns-A.yaml");
    let json = load("kubectl-get-pods-svc-netpol-ns-A.json");
    assert_eq!(pods(&yaml), pods(&json));
    assert_eq!(state(&yaml), state(&json));
}

#[test]
fn r9_3_a_kind_list_item_without_kind_is_an_error_naming_the_item() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: web}\n";
    let e = manifest::parse_str("l.yaml", text).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("items[0].kind"), "{e}");
    assert!(e.message.contains("Object 'Kind' is missing"), "{e}");
    // Only an item without both is inferred (apimachinery's "both empty" check).
    let text = "apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  metadata: {name: web}\n";
    let e = manifest::parse_str("l.yaml", text).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("items[0].kind"), "{e}");
    // A nested typed list is flattened too, its items inferred from it.
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PodList\n  items:\n  \
                - metadata: {name: web, namespace: a}\n";
    let m = manifest::parse_str("l.yaml", text).unwrap();
    assert_eq!(pods(&m), ["a/web"]);
}

// ----- kubectl's YAML (rule 9.3) ------------------------------------------------------------

#[test]
fn r9_3_yaml_tabs_inside_flow_collections_are_whitespace_as_for_kubectl() {
    let m = load("yaml/tab-in-flow.yaml");
    let s = state(&m);
    let pod = s.pod(&PodId::new("yaml", "tabbed")).unwrap();
    let ports: Vec<u16> = pod.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [80, 443]);
    // A tab as block indentation is an error, with its line, as for kubectl.
    let e = broken("yaml/tab-as-indentation.yaml");
    assert!(e.message.contains("tabs disallowed"), "{e}");
    assert!(e.message.contains("line 7"), "{e}");
    // More lenient than kubectl, pinned: a tab right after `-` is accepted.
    assert_eq!(pods(&load("yaml/tab-after-dash.yaml")), ["yaml/tabbed"]);
}

#[test]
fn r9_2_yaml_1_1_booleans_and_numbers_where_a_string_belongs_say_so_and_suggest_quoting() {
    let e = broken("yaml/label-no.yaml");
    assert_eq!(e.object.as_deref(), Some("Pod yaml/legacy"), "{e}");
    assert_eq!(e.field.as_deref(), Some("metadata.labels.canary"), "{e}");
    assert!(e.message.starts_with("Invalid value: false: must be a string"), "{e}");
    assert!(e.message.contains("YAML 1.1"), "{e}");
    assert!(e.message.contains("quote the value"), "{e}");
    let e = broken("yaml/label-number.yaml");
    assert_eq!(e.field.as_deref(), Some("metadata.labels.version"), "{e}");
    assert!(e.message.contains("must be a string"), "{e}");
    assert!(e.message.contains("quote"), "{e}");
}

#[test]
fn r9_3_yaml_octal_numbers_duplicates_and_kubectl_rendering() {
    // 0123 is octal, as go-yaml v2 reads it.
    let s = state(&load("yaml/octal-port.yaml"));
    let pod = s.pod(&PodId::new("yaml", "octal")).unwrap();
    assert_eq!(pod.ports[0].port, 83);
    // A duplicate key is an error (kubectl would keep the last value).
    let e = broken("yaml/duplicate-key.yaml");
    assert!(e.message.contains("duplicate mapping key: app"), "{e}");
    assert!(e.message.contains("line 10"), "{e}");
    // kubectl's own rendering reads back as the strings it wrote.
    let s = state(&load("yaml/kubectl-rendering.yaml"));
    let pod = s.pod(&PodId::new("yaml", "rendered")).unwrap();
    assert_eq!(pod.labels["on"], "no");
    assert_eq!(pod.labels["version"], "0123");
}

// ----- API-server wording (rule 9.2) --------------------------------------------------------

#[test]
fn r9_2_a_missing_container_port_is_required_value_as_the_api_server_says() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    \
                ports:\n    - {name: http}\n";
    let e = manifest::parse_str("p.yaml", text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.yaml: document 1: Pod default/p: spec.containers[0].ports[0].containerPort: Required value"
    );
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    \
                ports:\n    - {containerPort: 70000}\n";
    let e = manifest::parse_str("p.yaml", text).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    );
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    \
                ports:\n    - {containerPort: 80, protocol: ICMP}\n";
    let e = manifest::parse_str("p.yaml", text).unwrap_err();
    assert_eq!(
        e.message,
        "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
    );
}
