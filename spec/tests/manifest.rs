//! The manifest loader (rules 9.1–9.7), on the data under `tests/manifests/`.

use netsem_spec::manifest::{self, LoadError, Manifest, Object};
use netsem_spec::{
    replay, Address, ErrorKind, PodId, PolicyId, PortRef, Profile, Protocol, ServiceId, SpecEngine,
    State, Trace,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(rel)
}

fn load(rel: &str) -> Result<Manifest, LoadError> {
    manifest::load_paths(&[data(rel)])
}

fn broken(rel: &str) -> LoadError {
    match load(rel) {
        Ok(m) => panic!("{rel} loaded: {:?}", m.objects),
        Err(e) => e,
    }
}

fn pod_names(m: &Manifest) -> Vec<String> {
    m.objects
        .iter()
        .filter_map(|(_, o)| match o {
            Object::Pod { pod, .. } => Some(pod.id.to_string()),
            _ => None,
        })
        .collect()
}

fn applied(m: &Manifest) -> State {
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

// ----- rule 9.3: files, documents, lists, directories --------------------------------------

#[test]
fn r9_3_directory_with_multi_doc_yaml_json_and_list() {
    let m = load("cluster").unwrap();
    // Files in path order: 00-namespaces.yaml, list.yaml, pods.yaml, policies.json,
    // sub/extra.yml; README.txt is not read.
    let files: Vec<String> = m
        .objects
        .iter()
        .map(|(o, _)| {
            Path::new(&o.file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        files,
        [
            "00-namespaces.yaml",
            "extra.yml",
            "list.yaml",
            "pods.yaml",
            "policies.json"
        ]
    );
    assert_eq!(
        pod_names(&m),
        ["prod/web", "prod/client", "dev/tester", "prod/db"]
    );
    let policies: Vec<String> = m
        .objects
        .iter()
        .filter_map(|(_, o)| match o {
            Object::NetworkPolicy(p) => Some(p.id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(policies, ["prod/default-deny", "prod/web-allow-client"]);
    // Origins: the List's items are in document 1 of list.yaml; the third pod is document 3.
    let (origin, _) = m
        .objects
        .iter()
        .find(|(_, o)| matches!(o, Object::Pod { pod, .. } if pod.id.name == "tester"))
        .unwrap();
    assert_eq!((origin.document, origin.kind.as_str()), (3, "Pod"));
    assert_eq!(origin.object(), "Pod dev/tester");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    let s = applied(&m);
    let web = s.pod(&PodId::new("prod", "web")).unwrap();
    assert_eq!(web.ports.len(), 2);
    assert_eq!(web.ports[0].name.as_deref(), Some("http"));
    assert_eq!(addresses(&s, "prod/web"), ["10.0.0.1"]);
    assert_eq!(addresses(&s, "prod/client"), ["10.0.0.2"]);
    let p = s.policy(&PolicyId::new("prod", "default-deny")).unwrap();
    assert_eq!(p.policy_types.as_ref().map(Vec::len), Some(2));
    // policyTypes kept as written: absent stays None.
    let p = s
        .policy(&PolicyId::new("prod", "web-allow-client"))
        .unwrap();
    assert_eq!(p.policy_types, None);
    assert_eq!(
        p.ingress[0].ports[0].port,
        Some(PortRef::Name("http".into()))
    );
    let svc = s.service(&ServiceId::new("prod", "web")).unwrap();
    assert_eq!(svc.ports[0].target_port, PortRef::Name("http".into()));
    assert_eq!(
        s.lookup_service_2_pod_mappings(&svc.id).unwrap(),
        BTreeSet::from([PodId::new("prod", "web")])
    );
    assert_eq!(
        s.namespace_labels("prod").get("env").map(String::as_str),
        Some("prod")
    );
}

#[test]
fn r9_3_unknown_kind_is_a_warning_not_an_error() {
    let m = load("unknown-kind.yaml").unwrap();
    assert_eq!(m.objects.len(), 1, "only the Namespace is loaded");
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(m.warnings[0].contains("unknown-kind.yaml: document 2"));
    assert!(m.warnings[0].contains("Widget"));
    // A Knative Service is not a core Service.
    assert!(m.warnings[1].contains("document 3"));
    assert!(m.warnings[1].contains("serving.knative.dev/v1"));
}

#[test]
fn r9_3_empty_documents_and_namespace_defaulting() {
    let text = "---\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n# nothing\n";
    let m = manifest::parse_str("x.yaml", text).unwrap();
    assert_eq!(pod_names(&m), ["default/a"]);
    assert_eq!(m.objects[0].0.document, 2);
}

#[test]
fn r9_1_known_kind_with_another_api_version_is_an_error() {
    let text = "apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: p}\n";
    let e = manifest::parse_str("old.yaml", text).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("apiVersion"));
    assert_eq!(e.object.as_deref(), Some("NetworkPolicy default/p"));
}

// ----- rule 9.4: workloads -----------------------------------------------------------------

#[test]
fn r9_4_workload_expansion_names_and_counts() {
    let m = load("workloads.yaml").unwrap();
    let names = pod_names(&m);
    let with = |prefix: &str| {
        names
            .iter()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect::<Vec<_>>()
    };
    // StatefulSet: ordinal names.
    assert_eq!(with("shop/db-"), ["shop/db-0", "shop/db-1"]);
    // Deployment: NAME-<10>-<5>, three distinct pods sharing the template hash.
    let web = with("shop/web-");
    assert_eq!(web.len(), 3);
    let alphabet = "bcdfghjklmnpqrstvwxz2456789";
    let mut hashes = BTreeSet::new();
    for n in &web {
        let rest = n.strip_prefix("shop/web-").unwrap();
        let (hash, suffix) = rest.split_once('-').unwrap();
        assert_eq!((hash.len(), suffix.len()), (10, 5), "{n}");
        assert!(
            rest.chars().all(|c| c == '-' || alphabet.contains(c)),
            "{n}"
        );
        hashes.insert(hash.to_string());
    }
    assert_eq!(hashes.len(), 1);
    assert_eq!(web.iter().collect::<BTreeSet<_>>().len(), 3);
    // ReplicaSet (replicas defaults to 1), Job (parallelism 2), CronJob (1): NAME-<5>.
    for (prefix, count) in [
        ("shop/cache-", 1),
        ("shop/migrate-", 2),
        ("shop/report-", 1),
    ] {
        let pods = with(prefix);
        assert_eq!(pods.len(), count, "{prefix}");
        assert!(pods.iter().all(|p| p.len() == prefix.len() + 5), "{pods:?}");
    }
    // replicas: 0 gives no pods.
    assert!(with("shop/scaled-down").is_empty());
    // DaemonSet: one pod per node with pool=general, bound to it.
    let agents: Vec<_> = m
        .objects
        .iter()
        .filter_map(|(_, o)| match o {
            Object::Pod { pod, .. } if pod.id.name.starts_with("agent-") => {
                Some(pod.node.clone().unwrap())
            }
            _ => None,
        })
        .collect();
    assert_eq!(agents, ["node-a", "node-b"]);

    // Pods carry the template's labels and ports, are running, ready and get addresses.
    let s = applied(&m);
    let db0 = s.pod(&PodId::new("shop", "db-0")).unwrap();
    assert_eq!(db0.labels.get("app").map(String::as_str), Some("db"));
    assert_eq!(db0.ports[0].port, 5432);
    assert!(db0.is_live() && db0.ready);
    assert_eq!(addresses(&s, "shop/db-0").len(), 1);
}

#[test]
fn r9_4_expansion_is_deterministic() {
    let first = load("workloads.yaml").unwrap();
    let second = load("workloads.yaml").unwrap();
    assert_eq!(pod_names(&first), pod_names(&second));
    assert_eq!(first, second);
    assert_eq!(applied(&first), applied(&second));
    // Another template gives other names.
    let text = std::fs::read_to_string(data("workloads.yaml"))
        .unwrap()
        .replace("image: nginx", "image: nginx:2");
    let changed = manifest::parse_str("w.yaml", &text).unwrap();
    let web = |m: &Manifest| {
        pod_names(m)
            .into_iter()
            .filter(|n| n.starts_with("shop/web-"))
            .collect::<Vec<_>>()
    };
    assert_ne!(web(&first), web(&changed));
}

#[test]
fn r9_4_daemonset_without_nodes_is_one_pod_and_a_warning() {
    let text = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  \
                selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    \
                spec: {containers: [{name: a, image: a}]}\n";
    let m = manifest::parse_str("ds.yaml", text).unwrap();
    assert_eq!(pod_names(&m).len(), 1);
    assert_eq!(m.warnings.len(), 1);
    assert!(m.warnings[0].contains("DaemonSet default/agent"));
}

#[test]
fn r9_2_workload_selector_must_match_template() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  \
                selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: api}}\n";
    let e = manifest::parse_str("d.yaml", text).unwrap_err();
    assert_eq!(e.object.as_deref(), Some("Deployment default/web"));
    assert_eq!(e.field.as_deref(), Some("spec.template.metadata.labels"));
}

// ----- rule 9.5: addresses -----------------------------------------------------------------

#[test]
fn r9_5_allocation_is_deterministic_and_skips_used_addresses() {
    let text = "\
apiVersion: v1
kind: Pod
metadata: {name: c}
---
apiVersion: v1
kind: Pod
metadata: {name: a}
---
apiVersion: v1
kind: Pod
metadata: {name: b}
status: {podIP: 10.244.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: pending}
status: {phase: Pending}
---
apiVersion: v1
kind: Pod
metadata: {name: host}
spec: {hostNetwork: true, containers: []}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec: {selector: {app: x}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: fixed}
spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec: {clusterIP: None, selector: {app: x}}
";
    let m = manifest::parse_str("alloc.yaml", text).unwrap();
    let mut state = State::default();
    // An address already in use in the state is skipped too.
    state
        .add_external_entity("gateway", vec!["10.244.0.1".parse().unwrap()])
        .unwrap();
    m.apply(&mut state).unwrap();
    // Pods in identity order: a, c; .1 is the gateway's, .2 is b's.
    assert_eq!(addresses(&state, "default/a"), ["10.244.0.3"]);
    assert_eq!(addresses(&state, "default/b"), ["10.244.0.2"]);
    assert_eq!(addresses(&state, "default/c"), ["10.244.0.4"]);
    assert!(addresses(&state, "default/pending").is_empty());
    assert!(addresses(&state, "default/host").is_empty());
    let svc = |name: &str| {
        state
            .lookup_service_2_address_mappings(&ServiceId::new("default", name))
            .unwrap()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(svc("fixed"), ["10.96.0.1"]);
    assert_eq!(svc("svc"), ["10.96.0.2"]);
    assert!(svc("headless").is_empty());
    // Applying again keeps every address (an upsert, not a re-allocation).
    let before = state.clone();
    m.apply(&mut state).unwrap();
    assert_eq!(state, before);
    // The same input on a fresh state gives the same addresses.
    let mut again = State::default();
    again
        .add_external_entity("gateway", vec!["10.244.0.1".parse().unwrap()])
        .unwrap();
    m.apply(&mut again).unwrap();
    assert_eq!(again, before);
}

// ----- rule 1.3: namespaces ----------------------------------------------------------------

#[test]
fn r1_3_undeclared_namespace_has_only_the_name_label() {
    let s = applied(&load("cluster").unwrap());
    // dev and prod are declared; "default" is not.
    let dev = s.namespace_labels("dev");
    assert_eq!(dev.get("env").map(String::as_str), Some("dev"));
    assert_eq!(
        dev.get("kubernetes.io/metadata.name").map(String::as_str),
        Some("dev")
    );
    let text =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: lonely, labels: {a: b}}\n";
    let s = applied(&manifest::parse_str("p.yaml", text).unwrap());
    assert!(s.pod(&PodId::new("lonely", "p")).is_some());
    assert!(!s.declared_namespaces().contains_key("lonely"));
    assert_eq!(
        s.namespace_labels("lonely"),
        [(
            "kubernetes.io/metadata.name".to_string(),
            "lonely".to_string()
        )]
        .into()
    );
}

// ----- rule 9.6: Multus --------------------------------------------------------------------

#[test]
fn r9_6_multus_networks_and_network_status() {
    let m = load("multus.yaml").unwrap();
    let s = applied(&m);
    assert_eq!(s.networks()["prod/storage"].domain, "storage");
    assert_eq!(s.networks()["prod/tenant"].domain, "tenant-a");
    assert_eq!(s.networks()["prod/flat"].domain, "default");
    assert!(s.domains().contains("storage") && s.domains().contains("tenant-a"));
    let app = PodId::new("prod", "app");
    let mut attachments: Vec<(String, String, String)> = s
        .pod_addresses(&app)
        .map(|(a, i, n)| (i.to_string(), n.to_string(), a.to_string()))
        .collect();
    attachments.sort();
    assert_eq!(
        attachments,
        [
            ("eth0".into(), "default".into(), "10.244.1.5".into()),
            (
                "net1".into(),
                "prod/storage".into(),
                "192.168.10.5%storage".into()
            ),
            (
                "net2".into(),
                "prod/tenant".into(),
                "10.244.1.5%tenant-a".into()
            ),
        ]
    );
    // The default entry's address is the pod's own (no allocation happened).
    assert_eq!(
        s.lookup_address_2_pod_mapping(&"10.244.1.5".parse().unwrap()),
        Some(&app)
    );
    // Applying the same networks again is a no-op, not an error.
    let mut again = s.clone();
    m.apply(&mut again).unwrap();
    assert_eq!(again, s);
}

#[test]
fn r9_6_pod_with_two_attachments_in_two_domains() {
    let text = "\
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: blue, annotations: {netsem.io/ip-address-domain: blue}}
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    k8s.v1.cni.cncf.io/network-status: >-
      [{\"name\": \"cbr0\", \"interface\": \"eth0\", \"ips\": [\"10.1.0.1\"], \"default\": true},
       {\"name\": \"blue\", \"interface\": \"net1\", \"ips\": [\"10.1.0.1\"]}]
";
    let s = applied(&manifest::parse_str("m.yaml", text).unwrap());
    let got: BTreeSet<String> = addresses(&s, "default/p").into_iter().collect();
    assert_eq!(
        got,
        BTreeSet::from(["10.1.0.1".into(), "10.1.0.1%blue".into()])
    );
    assert_eq!(s.networks()["default/blue"].domain, "blue");
}

// ----- rule 9.7: EndpointSlices ------------------------------------------------------------

#[test]
fn r9_7_endpoint_slice_maps_a_selectorless_service() {
    let m = load("endpointslice.yaml").unwrap();
    let mut s = State::default();
    let (_, warnings) = m.apply_reporting(&mut s).unwrap();
    let legacy = ServiceId::new("prod", "legacy");
    assert_eq!(
        s.lookup_service_2_pod_mappings(&legacy).unwrap(),
        BTreeSet::from([PodId::new("prod", "old-1"), PodId::new("prod", "old-2")])
    );
    // 10.0.0.99 belongs to no pod: skipped with a warning.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("10.0.0.99"));
    assert!(warnings[0].contains("EndpointSlice prod/legacy-abc12"));
    // load_state reports it too.
    let (state, warnings) =
        manifest::load_state(&[data("endpointslice.yaml")], Profile::default()).unwrap();
    assert_eq!(state, s);
    assert_eq!(warnings.len(), 1);
    // Delete removes the mapping with the rest.
    m.delete(&mut s).unwrap();
    assert!(s.service(&legacy).is_none());
    assert_eq!(s.pods().count(), 0);
}

// ----- rules 9.1, 9.2: errors name file, document, object and field -----------------------

fn assert_error(
    rel: &str,
    document: usize,
    object: &str,
    field: Option<&str>,
    message_part: &str,
) -> LoadError {
    let e = broken(rel);
    assert!(e.file.ends_with(rel), "{e}");
    assert_eq!(e.document, Some(document), "{e}");
    assert_eq!(e.object.as_deref(), Some(object), "{e}");
    assert_eq!(e.field.as_deref(), field, "{e}");
    assert!(e.message.contains(message_part), "{e}");
    assert_eq!(e.kind, ErrorKind::InvalidManifest);
    let shown = e.to_string();
    assert!(
        shown.contains(&format!("document {document}: {object}")),
        "{shown}"
    );
    e
}

#[test]
fn r9_2_bad_label_key_is_rejected() {
    assert_error(
        "broken/bad-label-key.yaml",
        2,
        "Pod prod/web",
        Some("metadata.labels"),
        "bad key!",
    );
}

#[test]
fn r9_2_end_port_below_port_is_rejected() {
    let e = assert_error(
        "broken/end-port-below-port.yaml",
        2,
        "NetworkPolicy prod/web",
        Some("spec.ingress[0].ports[1].endPort"),
        "greater than or equal",
    );
    assert!(e.to_string().ends_with(&format!(
        "document 2: NetworkPolicy prod/web: spec.ingress[0].ports[1].endPort: {}",
        e.message
    )));
}

#[test]
fn r9_2_except_outside_cidr_is_rejected() {
    assert_error(
        "broken/except-outside-cidr.yaml",
        1,
        "NetworkPolicy prod/egress-out",
        Some("spec.egress[0].to[0].ipBlock.except[1]"),
        "strict subset",
    );
}

#[test]
fn r9_2_lowercase_protocol_is_rejected() {
    assert_error(
        "broken/protocol-lowercase.yaml",
        2,
        "NetworkPolicy prod/web",
        Some("spec.ingress[0].ports[0].protocol"),
        "\"tcp\"",
    );
}

#[test]
fn r9_2_peer_without_selector_is_rejected() {
    assert_error(
        "broken/peer-empty.yaml",
        1,
        "NetworkPolicy prod/web",
        Some("spec.ingress[0].from[1]"),
        "must specify a peer",
    );
}

#[test]
fn r9_2_ip_block_with_pod_selector_is_rejected() {
    assert_error(
        "broken/ipblock-with-selector.yaml",
        3,
        "NetworkPolicy dev/mixed",
        Some("spec.egress[0].to[0]"),
        "ipBlock",
    );
}

#[test]
fn r9_1_yaml_syntax_error_names_document_and_line() {
    let e = broken("broken/yaml-syntax.yaml");
    assert!(e.file.ends_with("broken/yaml-syntax.yaml"));
    assert_eq!(e.document, Some(2));
    assert_eq!(e.object, None);
    assert!(e.message.starts_with("YAML syntax error"), "{e}");
    // The unclosed `[` is on line 9, the parser notices on line 10.
    assert!(
        e.message.contains("line 9") || e.message.contains("line 10"),
        "{e}"
    );
}

#[test]
fn r9_2_bad_policy_type_is_rejected() {
    assert_error(
        "broken/bad-policy-type.yaml",
        2,
        "NetworkPolicy prod/typo",
        Some("spec.policyTypes[1]"),
        "\"egress\"",
    );
}

#[test]
fn r9_2_named_port_with_uppercase_is_rejected() {
    assert_error(
        "broken/named-port-uppercase.yaml",
        2,
        "NetworkPolicy prod/web",
        Some("spec.ingress[0].ports[0].port"),
        "\"HTTP\"",
    );
}

#[test]
fn r9_2_more_validation_failures() {
    let cases: &[(&str, &str, &str)] = &[
        // (manifest, field, message part)
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: Web}\nspec: {ports: [{port: 80}]}\n",
            "metadata.name",
            "DNS-1035",
        ),
        (
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n",
            "metadata.name",
            "DNS-1123 label",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {matchExpressions: [{key: a, operator: In}]}\n",
            "spec.podSelector.matchExpressions[0].values",
            "must be specified",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}\n",
            "spec.podSelector.matchExpressions[0].values",
            "may not be specified",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {matchExpressions: [{key: a, operator: Gt, values: ['1']}]}\n",
            "spec.podSelector.matchExpressions[0].operator",
            "Gt",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {}\n  ingress: [{ports: [{port: http, endPort: 90}]}]\n",
            "spec.ingress[0].ports[0].endPort",
            "non-numeric",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {}\n  ingress: [{ports: [{port: 70000}]}]\n",
            "spec.ingress[0].ports[0].port",
            "65535",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {}\n  policyTypes: [Ingress, Egress, Ingress]\n",
            "spec.policyTypes",
            "more than two",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/33}}]}]\n",
            "spec.egress[0].to[0].ipBlock.cidr",
            "not a valid CIDR",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]\n",
            "spec.egress[0].to[0].ipBlock.except[0]",
            "strict subset",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  \
             podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: ['::/64']}}]}]\n",
            "spec.egress[0].to[0].ipBlock.except[0]",
            "strict subset",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, ports: \
             [{containerPort: 80, name: Web}]}]\n",
            "spec.containers[0].ports[0].name",
            "\"Web\"",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, ports: \
             [{containerPort: 0}]}]\n",
            "spec.containers[0].ports[0].containerPort",
            "Required value",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, ports: \
             [{containerPort: 80, protocol: udp}]}]\n",
            "spec.containers[0].ports[0].protocol",
            "\"udp\"",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, \
             targetPort: Http}]}\n",
            "spec.ports[0].targetPort",
            "\"Http\"",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {'a b': c}, ports: \
             [{port: 80}]}\n",
            "spec.selector",
            "\"a b\"",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: [x]}}\n",
            "metadata.labels.app",
            "invalid type",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {podIP: 10.0.0.300}\n",
            "status.podIP",
            "not a valid IP",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: -1\n  \
             selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}}\n",
            "spec.replicas",
            "greater than or equal to 0",
        ),
    ];
    for (text, field, part) in cases {
        let e = manifest::parse_str("case.yaml", text)
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{text}"));
        assert_eq!(e.document, Some(1), "{e}");
        assert_eq!(e.field.as_deref(), Some(*field), "{e}\n{text}");
        assert!(e.message.contains(part), "{e}");
    }
}

#[test]
fn r9_1_errors_in_list_items_name_the_item() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: ok}\n\
                - apiVersion: v1\n  kind: Pod\n  metadata: {name: Bad}\n";
    let e = manifest::parse_str("l.yaml", text).unwrap_err();
    assert_eq!(e.object.as_deref(), Some("Pod default/Bad"));
    assert_eq!(e.field.as_deref(), Some("items[1].metadata.name"));
}

#[test]
fn r9_1_failed_load_or_apply_leaves_the_state_unchanged() {
    let (mut state, _) = manifest::load_state(&[data("cluster")], Profile::default()).unwrap();
    let before = state.clone();
    // A load error: nothing to apply at all.
    let e = manifest::load_paths(&[data("cluster"), data("broken/end-port-below-port.yaml")])
        .unwrap_err();
    assert!(e.file.ends_with("end-port-below-port.yaml"));
    assert_eq!(state, before);
    // An apply error half-way: the new namespace and the first pod are not kept.
    let text = "\
apiVersion: v1
kind: Namespace
metadata: {name: fresh}
---
apiVersion: v1
kind: Pod
metadata: {name: a-new, namespace: fresh}
status: {podIP: 10.9.9.9}
---
apiVersion: v1
kind: Pod
metadata: {name: z-clash, namespace: fresh}
status: {podIP: 10.0.0.1}
";
    let m = manifest::parse_str("clash.yaml", text).unwrap();
    let e = m.apply(&mut state).unwrap_err();
    assert_eq!(e.kind, ErrorKind::AddressInUse);
    assert_eq!(e.document, Some(3));
    assert_eq!(e.object.as_deref(), Some("Pod fresh/z-clash"));
    assert_eq!(state, before);
}

#[test]
fn r9_1_apply_updates_and_delete_removes() {
    let (mut state, _) = manifest::load_state(&[data("cluster")], Profile::default()).unwrap();
    // Relabel the web pod: an update in place keeps its address.
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod, labels: {app: \
                other}}\nstatus: {podIP: 10.0.0.1}\n";
    manifest::parse_str("u.yaml", text)
        .unwrap()
        .apply(&mut state)
        .unwrap();
    let web = state.pod(&PodId::new("prod", "web")).unwrap();
    assert_eq!(web.labels.get("app").map(String::as_str), Some("other"));
    assert!(state
        .lookup_service_2_pod_mappings(&ServiceId::new("prod", "web"))
        .unwrap()
        .is_empty());
    // Deleting the whole directory leaves an empty cluster.
    load("cluster").unwrap().delete(&mut state).unwrap();
    assert_eq!(state.pods().count(), 0);
    assert_eq!(state.policies().count(), 0);
    assert!(state.declared_namespaces().is_empty());
    // Deleting again: not found, and nothing changes.
    let before = state.clone();
    let e = load("cluster").unwrap().delete(&mut state).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(state, before);
}

// ----- traces ------------------------------------------------------------------------------

#[test]
fn r9_1_trace_apply_reads_files_relative_to_the_trace() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/manifest-apply-file.yaml");
    let trace = Trace::load(&path).unwrap();
    match &trace.steps[0].op {
        netsem_spec::Op::Apply { manifest, file } => {
            assert_eq!(file.as_deref(), Some("manifests/pods.yaml"));
            assert!(manifest.contains("kind: Pod"));
        }
        other => panic!("{other:?}"),
    }
    // Parsed without loading, the file was never read: the step fails.
    let text = std::fs::read_to_string(&path).unwrap();
    let unloaded = Trace::parse("x", &text).unwrap();
    let mut engine = SpecEngine::new(Profile::default());
    assert!(replay(&mut engine, &unloaded).is_err());
}

// ----- robustness --------------------------------------------------------------------------

#[test]
fn r9_1_odd_inputs_are_errors_not_panics() {
    let inputs = [
        "just a string",
        "- a\n- b\n",
        "42",
        "kind: Pod\n",
        "apiVersion: v1\n",
        "apiVersion: v1\nkind: List\nitems: 3\n",
        "apiVersion: v1\nkind: Pod\nmetadata: 7\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{ports: [{containerPort: 99999999999}]}]}\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {k8s.v1.cni.cncf.io/network-status: '[{'}}\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {k8s.v1.cni.cncf.io/network-status: '[{\"name\": \"x\", \"ips\": [\"1.2.3.4\"]}]'}}\n",
        "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: n}\nspec: {config: '{'}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2147483647, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}}}\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"\"}\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {generateName: p-}\n",
        "a: &x [*x]\n",
        "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
    ];
    for text in inputs {
        assert!(
            manifest::parse_str("odd.yaml", text).is_err(),
            "accepted: {text}"
        );
    }
    assert!(manifest::parse_str("odd.json", "{\"a\": ").is_err());
    assert!(manifest::load_paths(&[data("does-not-exist")]).is_err());
}

#[test]
fn r3_2_node_and_service_addresses() {
    let text = "\
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  addresses:
    - {type: InternalIP, address: 172.18.0.2}
    - {type: ExternalIP, address: 203.0.113.7}
    - {type: Hostname, address: n1}
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  clusterIPs: [10.96.5.5, fd00::5]
  externalIPs: [198.51.100.1]
  internalTrafficPolicy: Local
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.2}, {hostname: lb.example.com}]
";
    let s = applied(&manifest::parse_str("n.yaml", text).unwrap());
    let node: Vec<String> = s.node_addresses("n1").map(|a| a.to_string()).collect();
    assert_eq!(node, ["172.18.0.2", "203.0.113.7"]);
    let lb = ServiceId::new("default", "lb");
    let svc = s.service(&lb).unwrap();
    assert_eq!(svc.ports[1].protocol, Protocol::Udp);
    assert_eq!(svc.ports[1].target_port, PortRef::Number(53));
    let mut external = Vec::new();
    let mut cluster = Vec::new();
    for (a, owner) in s.addresses() {
        if let netsem_spec::AddressOwner::Service {
            service,
            external: e,
        } = owner
        {
            assert_eq!(service, &lb);
            if *e {
                external.push(a.to_string());
            } else {
                cluster.push(a.to_string());
            }
        }
    }
    assert_eq!(cluster, ["10.96.5.5", "fd00::5"]);
    assert_eq!(external, ["198.51.100.1", "198.51.100.2"]);
    let _ = Address::default_domain("10.0.0.1".parse().unwrap());
}

// ----- the shipped example -----------------------------------------------------------------

#[test]
fn r9_3_shipped_example_shop_loads_and_decides() {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop");
    let (state, warnings) = manifest::load_state(&[shop], Profile::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let names: Vec<String> = state.pods().map(|p| p.id.to_string()).collect();
    assert!(names.contains(&"backend/db-0".to_string()), "{names:?}");
    assert!(names.contains(&"backend/db-1".to_string()), "{names:?}");
    let web: Vec<PodId> = state
        .pods()
        .filter(|p| p.id.namespace == "frontend" && p.id.name.starts_with("web-"))
        .map(|p| p.id.clone())
        .collect();
    assert_eq!(web.len(), 2);
    assert!(state.policies().count() >= 6);
    let allowed = |from: &PodId, to: &str, port: u16| {
        let to: PodId = to.parse().unwrap();
        let d = state.pod_endpoint(&to, None).unwrap();
        let s = state.pod_endpoint(from, d.address()).unwrap();
        state.decide(&s, &d, Protocol::Tcp, port, None).allowed
    };
    let admin: PodId = "frontend/admin-console".parse().unwrap();
    let api: PodId = "backend/api".parse().unwrap();
    assert!(allowed(&web[0], "backend/api", 8080));
    assert!(!allowed(&admin, "backend/api", 8080));
    assert!(allowed(&api, "backend/db-1", 5432));
    assert!(!allowed(&web[1], "backend/db-0", 5432));
    assert!(allowed(
        &"monitoring/prometheus".parse().unwrap(),
        "backend/cache",
        9121
    ));
    assert!(!allowed(&api, "monitoring/prometheus", 9090));
}

// ----- rule 9.8: the loader's finer decisions (docs/MANIFESTS.md) ---------------------------

#[test]
fn r9_8_workload_pods_carry_the_labels_their_controllers_add() {
    let m = load("workloads.yaml").unwrap();
    let pods: Vec<&netsem_spec::Pod> = m
        .objects
        .iter()
        .filter_map(|(_, o)| match o {
            Object::Pod { pod, .. } => Some(pod),
            _ => None,
        })
        .collect();
    let db0 = pods.iter().find(|p| p.id.name == "db-0").unwrap();
    assert_eq!(
        db0.labels
            .get("statefulset.kubernetes.io/pod-name")
            .map(String::as_str),
        Some("db-0")
    );
    assert_eq!(
        db0.labels
            .get("apps.kubernetes.io/pod-index")
            .map(String::as_str),
        Some("0")
    );
    let web = pods.iter().find(|p| p.id.name.starts_with("web-")).unwrap();
    let hash = web.id.name.split('-').nth(1).unwrap();
    assert_eq!(
        web.labels.get("pod-template-hash").map(String::as_str),
        Some(hash)
    );
    let job = pods
        .iter()
        .find(|p| p.id.name.starts_with("migrate-"))
        .unwrap();
    assert_eq!(
        job.labels.get("job-name").map(String::as_str),
        Some("migrate")
    );
}

// ----- rules 6.17, 6.27: ServiceCIDRs and what manual EndpointSlices state ---------------

fn backends(s: &State, service: &str, node: Option<&str>) -> Vec<String> {
    let svc = s.service(&service.parse().unwrap()).expect("the Service");
    match s.service_backends(svc, node, None, Protocol::Tcp, 80) {
        Ok(b) => b.iter().map(|b| b.pod.to_string()).collect(),
        Err(r) => vec![format!("{r:?}")],
    }
}

#[test]
fn r6_19_manual_endpoint_slices_state_conditions_and_hints() {
    let m = load("endpoint-conditions.yaml").unwrap();
    let mut s = State::default();
    let (_, warnings) = m.apply_reporting(&mut s).unwrap();
    // The controller's slice of a selector Service is skipped without a word.
    assert!(warnings.is_empty(), "{warnings:?}");
    let legacy = ServiceId::new("prod", "legacy");
    let p1 = PodId::new("prod", "p1");
    let facts = s.endpoint_facts(&legacy, &p1).expect("stated");
    assert!(facts.ready && facts.serving && !facts.terminating);
    // p1's own Ready=False does not count: the slice's (absent) conditions say ready; p2 is
    // only serving-terminating and p3 not serving, so the ready one is used alone.
    assert_eq!(backends(&s, "prod/legacy", None), ["prod/p1"]);
    // Restated not ready: the serving-and-terminating p2 is the fallback (rule 6.5).
    let restated = std::fs::read_to_string(data("endpoint-conditions.yaml"))
        .unwrap()
        .replace(
            "  - addresses: [10.0.0.1]\n    targetRef: {kind: Pod, name: p1}\n",
            "  - addresses: [10.0.0.1]\n    targetRef: {kind: Pod, name: p1}\n    conditions: {ready: false}\n",
        );
    manifest::parse_str("again.yaml", &restated)
        .unwrap()
        .apply(&mut s)
        .unwrap();
    assert!(!s.endpoint_facts(&legacy, &p1).unwrap().ready);
    assert_eq!(backends(&s, "prod/legacy", None), ["prod/p2"]);
    // Hints: node hints only where every ready endpoint has some, so zones decide; a client
    // with no node gets every endpoint.
    assert_eq!(backends(&s, "prod/zoned", Some("n1")), ["prod/p1"]);
    assert_eq!(backends(&s, "prod/zoned", Some("n2")), ["prod/p2"]);
    assert_eq!(backends(&s, "prod/zoned", None), ["prod/p1", "prod/p2"]);
    // Removing the mapping forgets what the slice stated.
    s.remove_pod_2_service_mapping(&p1, &legacy).unwrap();
    assert!(s.endpoint_facts(&legacy, &p1).is_none());
    s.add_pod_2_service_mapping(&p1, &legacy).unwrap();
    assert!(s.endpoint_facts(&legacy, &p1).is_none());
}

#[test]
fn r6_19_node_hints_win_when_every_ready_endpoint_has_one() {
    let text = std::fs::read_to_string(data("endpoint-conditions.yaml"))
        .unwrap()
        .replace(
            "hints: {forZones: [{name: zone-a}]}",
            "hints: {forZones: [{name: zone-a}], forNodes: [{name: n1}]}",
        );
    let s = applied(&manifest::parse_str("nodes.yaml", &text).unwrap());
    assert_eq!(backends(&s, "prod/zoned", Some("n2")), ["prod/p2"]);
    assert_eq!(backends(&s, "prod/zoned", Some("n1")), ["prod/p1"]);
}

#[test]
fn r6_19_another_managers_slice_of_a_selector_service_is_reported() {
    let text = std::fs::read_to_string(data("endpoint-conditions.yaml"))
        .unwrap()
        .replace(
            "endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io",
            "endpointslice.kubernetes.io/managed-by: mesh.example.com",
        );
    let mut s = State::default();
    let (_, warnings) = manifest::parse_str("other.yaml", &text)
        .unwrap()
        .apply_reporting(&mut s)
        .unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("EndpointSlice prod/selected-1")
            && warnings[0].contains("kube-proxy would add"),
        "{warnings:?}"
    );
}

#[test]
fn r6_17_service_cidrs_are_read_and_the_kubernetes_one_allocates() {
    let text = "\
apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata: {name: kubernetes}
spec: {cidrs: [10.100.0.0/24, \"fd00:100::/112\"]}
---
apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata: {name: extra}
spec: {cidrs: [10.200.0.0/24]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec: {ports: [{port: 80}]}
";
    let m = manifest::parse_str("cidrs.yaml", text).unwrap();
    let mut s = applied(&m);
    assert_eq!(s.service_cidrs().len(), 2);
    assert_eq!(
        s.lookup_service_2_address_mappings(&ServiceId::new("prod", "web"))
            .unwrap()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["10.100.0.1"]
    );
    assert!(s.in_service_cidr("10.200.0.9".parse().unwrap()));
    // Re-applying is a no-op; changing the ranges is refused (they are immutable).
    m.apply(&mut s).unwrap();
    let changed = text.replace("10.200.0.0/24", "10.201.0.0/24");
    let e = manifest::parse_str("cidrs.yaml", &changed)
        .unwrap()
        .apply(&mut s)
        .unwrap_err();
    assert_eq!(e.object.as_deref(), Some("ServiceCIDR extra"), "{e}");
    assert_eq!(e.field.as_deref(), Some("spec.cidrs"), "{e}");
    assert!(e.message.contains("immutable"), "{e}");
    m.delete(&mut s).unwrap();
    assert!(s.service_cidrs().is_empty());
}

#[test]
fn r6_17_r6_19_r9_2_service_cidr_endpoint_slice_and_service_validation() {
    let cidr = |cidrs: &str| {
        format!("apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {{name: c}}\nspec: {{cidrs: {cidrs}}}\n")
    };
    let slice = |endpoint: &str| {
        format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: s, labels: {{kubernetes.io/service-name: x}}}}\naddressType: IPv4\nendpoints:\n  - {endpoint}\n"
        )
    };
    let service =
        |spec: &str| format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec:\n{spec}");
    let cases: Vec<(String, &str, &str)> = vec![
        (cidr("[]"), "spec.cidrs", "at least one CIDR required"),
        (
            cidr("[10.0.0.0/24, \"fd00::/64\", 10.1.0.0/24]"),
            "spec.cidrs",
            "up to 2 values",
        ),
        (
            cidr("[10.0.0.0/24, 10.1.0.0/24]"),
            "spec.cidrs",
            "no more than one IP for each IP family",
        ),
        (cidr("[10.0.0.1/24]"), "spec.cidrs[0]", "canonical form (\"10.0.0.0/24\")"),
        (cidr("[10.0.0.0/33]"), "spec.cidrs[0]", "must be a valid CIDR value"),
        (slice("{addresses: []}"), "endpoints[0].addresses", "at least 1 address"),
        (
            slice("{addresses: [\"fd00::1\"]}"),
            "endpoints[0].addresses[0]",
            "must be a valid IPv4 address",
        ),
        (
            slice("{addresses: [127.0.0.1]}"),
            "endpoints[0].addresses[0]",
            "loopback",
        ),
        (
            slice("{addresses: [10.0.0.1], hints: {forZones: [{name: a}, {name: a}]}}"),
            "endpoints[0].hints.forZones[1].name",
            "Duplicate value",
        ),
        (
            slice("{addresses: [10.0.0.1], hints: {forZones: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}, {name: f}, {name: g}, {name: h}, {name: i}]}}"),
            "endpoints[0].hints.forZones",
            "at most 8",
        ),
        (
            slice("{addresses: [10.0.0.1], hints: {forZones: [{name: \"-a\"}]}}"),
            "endpoints[0].hints.forZones[0].name",
            "valid label",
        ),
        (
            slice("{addresses: [10.0.0.1], hints: {forNodes: [{name: Node_1}]}}"),
            "endpoints[0].hints.forNodes[0].name",
            "DNS-1123 subdomain",
        ),
        (
            slice("{addresses: [10.0.0.1], nodeName: \"bad name\"}"),
            "endpoints[0].nodeName",
            "DNS-1123 subdomain",
        ),
        (
            slice("{addresses: [10.0.0.1], conditions: {ready: maybe}}"),
            "endpoints[0].conditions.ready",
            "",
        ),
        (
            service("  type: NodePort\n  ports: [{port: 80, nodePort: 80}]\n"),
            "spec.ports[0].nodePort",
            "The range of valid ports is 30000-32767",
        ),
        (
            service("  type: NodePort\n  ports: [{name: a, port: 80, nodePort: 30080}, {name: b, port: 81, nodePort: 30080}]\n"),
            "spec.ports[1].nodePort",
            "Duplicate value: 30080",
        ),
        (
            service("  ports: [{port: 80, nodePort: 30080}]\n"),
            "spec.ports[0].nodePort",
            "may not be used when `type` is 'ClusterIP'",
        ),
        (
            service("  externalIPs: [169.254.1.1]\n  ports: [{port: 80}]\n"),
            "spec.externalIPs[0]",
            "link-local",
        ),
        (
            service("  externalIPs: [0.0.0.0]\n  ports: [{port: 80}]\n"),
            "spec.externalIPs[0]",
            "unspecified",
        ),
        (
            service("  ports: [{port: 80}]\n  externalTrafficPolicy: Local\n"),
            "spec.externalTrafficPolicy",
            "externally-accessible",
        ),
        (
            service("  type: NodePort\n  ports: [{port: 80}]\n  loadBalancerSourceRanges: [10.0.0.0/8]\n"),
            "spec.loadBalancerSourceRanges",
            "may only be used when `type` is 'LoadBalancer'",
        ),
        (
            service("  type: LoadBalancer\n  ports: [{port: 80}]\n  loadBalancerSourceRanges: [10.0.0.0/88]\n"),
            "spec.loadBalancerSourceRanges[0]",
            "not a valid CIDR",
        ),
        (
            service("  type: LoadBalancer\n  ports: [{port: 80}]\nstatus: {loadBalancer: {ingress: [{ip: 203.0.113.1, ipMode: Tunnel}]}}\n"),
            "status.loadBalancer.ingress[0].ipMode",
            "supported values",
        ),
        (
            service("  type: LoadBalancer\n  ports: [{port: 80}]\nstatus: {loadBalancer: {ingress: [{hostname: lb.example.com, ipMode: VIP}]}}\n"),
            "status.loadBalancer.ingress[0].ipMode",
            "may not be specified when `ip` is not set",
        ),
        (
            service("  type: NodePort\n  ports: [{port: 80}]\nstatus: {loadBalancer: {ingress: [{ip: 203.0.113.1}]}}\n"),
            "status.loadBalancer.ingress",
            "'LoadBalancer'",
        ),
        (
            service("  ports: [{port: 80}]\n  trafficDistribution: Nearby\n"),
            "spec.trafficDistribution",
            "PreferSameZone",
        ),
        (
            service("  ports: [{port: 80}]\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}\n"),
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            "86400",
        ),
        (
            service("  ports: [{port: 80}]\n  sessionAffinity: Sticky\n"),
            "spec.sessionAffinity",
            "ClientIP",
        ),
        (
            service("  ports: [{port: 80}]\n  internalTrafficPolicy: Node\n"),
            "spec.internalTrafficPolicy",
            "Local",
        ),
        (
            service("  type: Balanced\n  ports: [{port: 80}]\n"),
            "spec.type",
            "NodePort",
        ),
    ];
    for (text, field, part) in &cases {
        let e = manifest::parse_str("case.yaml", text)
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{text}"));
        assert_eq!(e.document, Some(1), "{e}");
        assert_eq!(e.field.as_deref(), Some(*field), "{e}\n{text}");
        assert!(e.message.contains(part), "{e}");
    }
    // What the API server accepts: dual-stack ranges, a timeout of exactly 86400, node ports
    // at both ends of the range, `PreferClose`.
    for ok in [
        cidr("[10.0.0.0/24, \"fd00::/64\"]"),
        service("  ports: [{port: 80}]\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86400}}\n"),
        service("  type: NodePort\n  ports: [{name: a, port: 80, nodePort: 30000}, {name: b, port: 81, nodePort: 32767}]\n"),
        service("  ports: [{port: 80}]\n  trafficDistribution: PreferClose\n"),
    ] {
        manifest::parse_str("ok.yaml", &ok).unwrap_or_else(|e| panic!("{e}\n{ok}"));
    }
}
