//! What clusters and tools actually produce (data under `tests/manifests/real/`, see its
//! README): typed lists, kubectl's YAML, API-server wording, host-network pods without Nodes,
//! and the kinds read for real inputs (docs/MANIFESTS.md).

use netsem_spec::connection::Endpoint;
use netsem_spec::manifest::{self, LoadError, Manifest, Object, WorkloadRef};
use netsem_spec::{Address, PodId, Protocol, State};
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
    assert!(
        m.warnings.iter().all(|w| w.contains("[rule 9.9]")),
        "{:?}",
        m.warnings
    );
    let p = pods(&m);
    assert!(
        p.contains(&"kube-system/coredns-7db6d8ff4d-5x2qg".to_string()),
        "{p:?}"
    );
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
    let text =
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PodList\n  items:\n  \
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
    assert!(
        e.message
            .starts_with("Invalid value: false: must be a string"),
        "{e}"
    );
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
    let text =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    \
                ports:\n    - {name: http}\n";
    let e = manifest::parse_str("p.yaml", text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.yaml: document 1: Pod default/p: spec.containers[0].ports[0].containerPort: Required value"
    );
    let text =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    \
                ports:\n    - {containerPort: 70000}\n";
    let e = manifest::parse_str("p.yaml", text).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    );
    let text =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    \
                ports:\n    - {containerPort: 80, protocol: ICMP}\n";
    let e = manifest::parse_str("p.yaml", text).unwrap_err();
    assert_eq!(
        e.message,
        "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
    );
}

// ----- host-network pods without their Node (rule 9.9) --------------------------------------

#[test]
fn r9_9_a_host_network_pod_without_its_node_gets_the_address_its_status_gives() {
    let m = load("kubectl-get-pods-svc-netpol-ns-A.yaml");
    assert!(
        m.warnings.iter().any(|w| w.contains(
            "Pod kube-system/kube-proxy-q9w7t: node kind-worker is not in the input: its \
             addresses are taken from the pod's status (172.18.0.3) [rule 9.9]"
        )),
        "{:?}",
        m.warnings
    );
    let s = state(&m);
    let proxy = PodId::new("kube-system", "kube-proxy-q9w7t");
    assert_eq!(
        s.primary_addresses(&proxy),
        [&"172.18.0.3".parse::<Address>().unwrap()]
    );
    assert_eq!(s.node_addresses("kind-worker").count(), 1);
    // The ipBlock 172.18.0.0/16 of shop/frontend-allow-web now matches it (rules 5.12, 7.6):
    // kube-proxy, on kind-worker, reaches the frontend pod on kind-worker2 on its http port.
    let web = PodId::new("shop", "frontend-6d8f7c9b5d-wq5hn");
    let (src, dst) = s.pod_pair(&proxy, &web).unwrap();
    assert!(matches!(
        src,
        Endpoint::Pod {
            address: Some(_),
            ..
        }
    ));
    assert!(s.decide(&src, &dst, Protocol::Tcp, 8080, None).allowed);
    assert!(!s.decide(&src, &dst, Protocol::Tcp, 9090, None).allowed);
    // A declared Node wins over the pod's status; a pod without nodeName is on a node named by
    // its host address.
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: h, namespace: x}\nspec: \
                {hostNetwork: true}\nstatus: {hostIP: 192.0.2.9}\n";
    let s = state(&manifest::parse_str("h.yaml", text).unwrap());
    let h = s.pod(&PodId::new("x", "h")).unwrap();
    assert_eq!(h.node.as_deref(), Some("192.0.2.9"));
    let text = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {addresses: [{type: \
                InternalIP, address: 192.0.2.1}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: \
                {name: h, namespace: x}\nspec: {hostNetwork: true, nodeName: n1}\nstatus: \
                {hostIP: 192.0.2.9}\n";
    let m = manifest::parse_str("h.yaml", text).unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    let s = state(&m);
    assert_eq!(
        s.primary_addresses(&PodId::new("x", "h")),
        [&"192.0.2.1".parse::<Address>().unwrap()]
    );
}

// ----- workloads: ReplicationController, KubeVirt, and pods that are in the input -------------

/// The documents of a sample, `---`-separated, keeping those for which `keep` says so.
fn documents(rel: &str, keep: impl Fn(usize) -> bool) -> String {
    let text = std::fs::read_to_string(real(rel)).unwrap();
    text.split("\n---\n")
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, d)| d)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

#[test]
fn r9_4_a_replication_controller_becomes_its_pods() {
    // As submitted: selector and replicas defaulted from the template.
    let text = documents("replicationcontroller-and-pod.yaml", |i| i == 0);
    let m = manifest::parse_str("rc.yaml", &text).unwrap();
    let p = pods(&m);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("shop/legacy-worker-"), "{p:?}");
    let s = state(&m);
    let pod = s.pods().next().unwrap();
    // Exactly the template's labels: no pod-template-hash.
    assert_eq!(pod.labels.len(), 1);
    assert_eq!(pod.labels["app"], "legacy-worker");
    let id = pod.id.clone();
    assert_eq!(
        m.workloads[&id],
        WorkloadRef::new("ReplicationController", "legacy-worker")
    );
    // The defaulted form gives one pod with the same labels (its name hashes its template,
    // which the API server filled in).
    let defaulted = documents("replicationcontroller-and-pod.yaml", |i| i == 1);
    let s2 = state(&manifest::parse_str("rc.yaml", &defaulted).unwrap());
    let pods2: Vec<_> = s2.pods().collect();
    assert_eq!(pods2.len(), 1);
    assert_eq!(pods2[0].labels, pod.labels);
    // With its pod in the input, the pod is the RC's pod: the RC is not expanded.
    let m = load("replicationcontroller-and-pod.yaml");
    assert_eq!(pods(&m), ["shop/legacy-worker-x4r8d"]);
    assert_eq!(
        m.workloads[&PodId::new("shop", "legacy-worker-x4r8d")],
        WorkloadRef::new("ReplicationController", "legacy-worker")
    );
    // A selector that does not match the template is refused, as by the API server.
    let text = "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n  \
                selector: {app: a}\n  template:\n    metadata: {labels: {app: b}}\n";
    let e = manifest::parse_str("rc.yaml", text).unwrap_err();
    assert_eq!(
        e.field.as_deref(),
        Some("spec.template.metadata.labels"),
        "{e}"
    );
}

#[test]
fn r9_11_a_virtual_machine_is_a_workload_whose_launcher_pod_carries_its_labels_and_ports() {
    // The VM alone: one virt-launcher pod with the template's labels and KubeVirt's, and the
    // interfaces' ports.
    let vm = documents("kubevirt-vm-vmi-launcher.yaml", |i| i == 0);
    let m = manifest::parse_str("vm.yaml", &vm).unwrap();
    let p = pods(&m);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("vms/virt-launcher-fedora-web-"), "{p:?}");
    let s = state(&m);
    let pod = s.pods().next().unwrap();
    for (k, v) in [
        ("app", "fedora-web"),
        ("kubevirt.io/size", "small"),
        ("kubevirt.io", "virt-launcher"),
        ("vm.kubevirt.io/name", "fedora-web"),
        ("vmi.kubevirt.io/id", "fedora-web"),
    ] {
        assert_eq!(pod.labels.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(pod.ports.len(), 1);
    assert_eq!(
        (pod.ports[0].name.as_deref(), pod.ports[0].port),
        (Some("http"), 80)
    );
    assert_eq!(
        m.workloads[&pod.id],
        WorkloadRef::new("VirtualMachine", "fedora-web")
    );
    // A halted VM has no pod.
    let halted = vm.replace("runStrategy: Always", "runStrategy: Halted");
    let m = manifest::parse_str("vm.yaml", &halted).unwrap();
    assert!(pods(&m).is_empty());
    assert!(
        m.warnings.iter().any(|w| w.contains("not running")),
        "{:?}",
        m.warnings
    );
    // The VM and its VMI: the VMI's pod, with the addresses the VMI reports, on its node.
    let both = documents("kubevirt-vm-vmi-launcher.yaml", |i| i < 2);
    let m = manifest::parse_str("vm.yaml", &both).unwrap();
    assert_eq!(pods(&m).len(), 1);
    let s = state(&m);
    let pod = s.pods().next().unwrap();
    assert_eq!(pod.node.as_deref(), Some("worker-1"));
    assert_eq!(
        pod.labels.get("kubevirt.io/created-by").map(String::as_str),
        Some("5d0e3c1a-2b4f-4a6e-9c8d-7e6f5a4b3c2d")
    );
    let id = pod.id.clone();
    assert_eq!(
        addresses(&s, &id.to_string()),
        ["10.128.2.44", "192.168.50.12"]
    );
    // Everything, the launcher pod included: the input's pod is the VM's.
    let m = load("kubevirt-vm-vmi-launcher.yaml");
    assert_eq!(pods(&m), ["vms/virt-launcher-fedora-web-7xk9q"]);
    let s = state(&m);
    let pod = s
        .pod(&PodId::new("vms", "virt-launcher-fedora-web-7xk9q"))
        .unwrap();
    assert_eq!(pod.labels["app"], "fedora-web");
    assert_eq!(pod.ports[0].port, 80);
}

// ----- OpenShift Route (rule 9.12) ------------------------------------------------------------

#[test]
fn r9_12_a_route_is_read_validated_and_names_what_it_needs() {
    let m = load("openshift-route-and-router.yaml");
    // The router pod is in the input; the Route's two Services are not.
    for svc in ["shop/frontend", "shop/frontend-canary"] {
        assert!(
            m.warnings.iter().any(|w| w.contains(&format!(
                "routes to service {svc}, which is not in the input"
            ))),
            "{:?}",
            m.warnings
        );
    }
    assert!(
        !m.warnings.iter().any(|w| w.contains("router pods")),
        "{:?}",
        m.warnings
    );
    let route = documents("openshift-route-and-router.yaml", |i| i == 0);
    let m = manifest::parse_str("route.yaml", &route).unwrap();
    assert!(m.objects.is_empty());
    assert!(
        m.warnings.iter().any(|w| w.contains("router pods")),
        "{:?}",
        m.warnings
    );
    // Validation, in the API server's words.
    for (from, to, field, part) in [
        (
            "weight: 90",
            "weight: 300",
            "spec.to.weight",
            "between 0 and 256",
        ),
        (
            "termination: edge",
            "termination: bogus",
            "spec.tls.termination",
            "Unsupported value",
        ),
        ("path: /", "path: shop", "spec.path", "must begin with /"),
        (
            "kind: Service\n    name: frontend\n",
            "kind: Deployment\n    name: frontend\n",
            "spec.to.kind",
            "Unsupported value",
        ),
    ] {
        let bad = route.replace(from, to);
        assert_ne!(bad, route, "{from}");
        let e = manifest::parse_str("route.yaml", &bad).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(e.message.contains(part), "{e}");
    }
}

// ----- each pod's workload (rule 9.10) --------------------------------------------------------

#[test]
fn r9_10_every_pod_of_a_dump_belongs_to_the_workload_its_owner_references_name() {
    let m = load("kubectl-get-pods-svc-netpol-ns-A.yaml");
    let of = |ns: &str, pod: &str| m.workloads.get(&PodId::new(ns, pod)).map(|w| w.to_string());
    assert_eq!(
        of("shop", "frontend-6d8f7c9b5d-k7x2p").as_deref(),
        Some("frontend[Deployment]")
    );
    assert_eq!(of("shop", "db-0").as_deref(), Some("db[StatefulSet]"));
    assert_eq!(
        of("kube-system", "kube-proxy-q9w7t").as_deref(),
        Some("kube-proxy[DaemonSet]")
    );
    assert_eq!(
        of("kube-system", "coredns-7db6d8ff4d-5x2qg").as_deref(),
        Some("coredns[Deployment]")
    );
    // A workload expanded by netsem: its pods are recorded under it.
    let text =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec:\n  \
                replicas: 2\n  selector: {matchLabels: {app: web}}\n  template: {metadata: \
                {labels: {app: web}}}\n";
    let m = manifest::parse_str("d.yaml", text).unwrap();
    assert_eq!(m.workloads.len(), 2);
    assert!(m
        .workloads
        .values()
        .all(|w| *w == WorkloadRef::new("Deployment", "web")));
}

// ----- verdicts that depend on an allocated address (rule 9.13) ------------------------------

#[test]
fn r9_13_a_verdict_that_depends_on_an_allocated_address_names_the_pod_and_the_address() {
    use netsem_spec::decision::allocated::{decision_dependencies, matrix_dependencies};
    // `web` is reached from 10.0.0.0/8 only; `client` has no status, `known` has its address.
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a}\nstatus: {podIP: \
                10.1.0.1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: \
                a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: known, namespace: a}\n\
                status: {podIP: 192.0.2.7}\n---\napiVersion: networking.k8s.io/v1\nkind: \
                NetworkPolicy\nmetadata: {name: web, namespace: a}\nspec:\n  podSelector: \
                {matchLabels: {}}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: \
                [{port: 80}]}]\n";
    let dir = std::env::temp_dir().join(format!("netsem-r9-13-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cluster.yaml");
    std::fs::write(&file, text).unwrap();
    let loaded = manifest::load(&[&file], Default::default()).unwrap();
    let client = PodId::new("a", "client");
    let allocated: Vec<_> = loaded.allocated.iter().collect();
    assert_eq!(allocated.len(), 1);
    assert_eq!(allocated[0].1, &client);
    let s = &loaded.state;
    let decide = |from: &str, port: u16| {
        let (src, dst) = s
            .pod_pair(&PodId::new("a", from), &PodId::new("a", "web"))
            .unwrap();
        s.decide(&src, &dst, Protocol::Tcp, port, None)
    };
    // The ipBlock matched the allocated address: the verdict depends on it.
    let d = decide("client", 80);
    assert!(d.allowed);
    let deps = decision_dependencies(s, &d, &loaded.allocated);
    assert_eq!(deps, [(client.clone(), allocated[0].0.clone())]);
    // Its ports do not match on 81: the ipBlock decides nothing there.
    assert!(decision_dependencies(s, &decide("client", 81), &loaded.allocated).is_empty());
    // An address the input gave is no allocated address, matched or missed.
    assert!(decision_dependencies(s, &decide("known", 80), &loaded.allocated).is_empty());
    // In the matrix: every cell into a pod the ipBlock guards, from the allocated pod.
    let cells = matrix_dependencies(s, &loaded.allocated);
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0].pod, client);
    assert_eq!(cells[0].cells, 3, "{cells:?}");
    assert_eq!(cells[0].example, (client.clone(), client.clone()));
    // Under ip-block-pods=external-only an ipBlock never looks at a pod address.
    let mut external = s.clone();
    external.set_profile("default,ip-block-pods=external-only".parse().unwrap());
    assert!(matrix_dependencies(&external, &loaded.allocated).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

// ----- MultiNetworkPolicy and user-defined networks on realistic inputs (rules 8.7-8.11) --

#[test]
fn r8_8_a_multus_pod_and_its_multi_network_policies() {
    let m = load("multus-macvlan-pod-and-mnp.yaml");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    let s = state(&m);
    // `policy-for: storage-net, backup/backup-net`: a bare name is the policy's namespace.
    let p = s
        .multi_network_policy(&"shop/storage-db-ingress".parse().unwrap())
        .unwrap();
    assert_eq!(p.networks, ["shop/storage-net", "backup/backup-net"]);
    let e = s
        .multi_network_policy(&"shop/storage-egress-range".parse().unwrap())
        .unwrap();
    assert_eq!(e.egress[0].ports[0].end_port, Some(9100));
    // db-0 on its storage address: the ipBlock of storage-db-ingress admits 192.168.50.0/24 but
    // .1, on 5432 only; on eth0 nothing filters db-0.
    let db = |ip: &str| Address::new("default", ip.parse().unwrap());
    let decide = |from: &str, to: &str, port: u16| {
        let src = s.address_endpoint(&db(from)).unwrap();
        let dst = s.address_endpoint(&db(to)).unwrap();
        s.decide(&src, &dst, Protocol::Tcp, port, None).allowed
    };
    assert!(decide("192.168.50.77", "192.168.50.11", 5432));
    assert!(!decide("192.168.50.1", "192.168.50.11", 5432));
    assert!(!decide("192.168.50.77", "192.168.50.11", 80));
    assert!(decide("10.0.0.9", "10.244.2.7", 80));
    // Another version of the kind is refused: the CRD serves only v1beta1.
    let text = std::fs::read_to_string(real("multus-macvlan-pod-and-mnp.yaml"))
        .unwrap()
        .replacen("k8s.cni.cncf.io/v1beta1", "k8s.cni.cncf.io/v1beta2", 1);
    let e = manifest::parse_str("mnp.yaml", &text).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("apiVersion"), "{e}");
    // Without policy-for it filters nothing, and says so.
    let text =
        "apiVersion: k8s.cni.cncf.io/v1beta1\nkind: MultiNetworkPolicy\nmetadata: {name: p}\n\
                spec: {podSelector: {}}\n";
    let m = manifest::parse_str("mnp.yaml", text).unwrap();
    assert!(m.objects.is_empty());
    assert!(
        m.warnings[0].contains("filters nothing"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn r8_8_the_upstream_e2e_inputs_of_multi_networkpolicy_iptables_load() {
    for f in [
        "mnp-iptables-e2e-simple-v4-ingress.yml",
        "mnp-iptables-e2e-ingress-ns-selector-no-pods.yml",
    ] {
        let s = state(&load(f));
        let policies: Vec<_> = s.multi_network_policies().collect();
        assert_eq!(policies.len(), 1, "{f}");
        assert_eq!(policies[0].networks, ["default/macvlan1-simple"], "{f}");
        assert!(s.networks().contains_key("default/macvlan1-simple"), "{f}");
    }
}

#[test]
fn r8_9_user_defined_networks_are_networks_in_domains_of_their_own() {
    let s = state(&load("ovnk-udn-cudn.yaml"));
    let net = |n: &str| {
        s.networks()
            .get(n)
            .cloned()
            .unwrap_or_else(|| panic!("{n}"))
    };
    use netsem_spec::net::NetworkRole;
    assert_eq!(net("blue/blue-network").role, NetworkRole::Primary);
    assert_eq!(net("blue/blue-network").domain, "blue/blue-network");
    assert_eq!(net("blue/blue-l2-secondary").role, NetworkRole::Secondary);
    assert_eq!(net("cluster_udn_tenant-berlin").role, NetworkRole::Primary);
    assert_eq!(
        net("cluster_udn_provider-vlan100").role,
        NetworkRole::Secondary
    );
    // The CRD's CEL rules, with their messages.
    let text = std::fs::read_to_string(real("ovnk-udn-cudn.yaml")).unwrap();
    let bad = text.replacen("  topology: Layer3\n", "  topology: Layer2\n", 1);
    let e = manifest::parse_str("udn.yaml", &bad).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("spec.layer2"), "{e}");
    assert!(
        e.message.contains("required when topology is Layer2"),
        "{e}"
    );
    let bad = text.replacen("role: Primary", "role: Tertiary", 1);
    let e = manifest::parse_str("udn.yaml", &bad).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("spec.layer3.role"), "{e}");
}

#[test]
fn r8_10_a_pod_of_a_primary_udn_namespace_is_on_that_network() {
    // The NAD OVN-Kubernetes rendered, and a pod with its annotations: the pod's primary
    // address is the one on ovn-udn1 (network-status `default: true`), not its podIP.
    let m = load("ovnk-udn-generated-nad-and-pod.yaml");
    let s = state(&m);
    let client = PodId::new("blue", "client");
    assert_eq!(
        s.primary_addresses(&client),
        [&"103.103.1.5%blue/blue-network".parse::<Address>().unwrap()]
    );
    // The secondary UDN blue/blue-l2-secondary, on net1 (its NAD is not in this file).
    assert_eq!(
        addresses(&s, "blue/client"),
        ["103.103.1.5%blue/blue-network", "192.168.100.7"]
    );
    // With the UDN objects as well, the secondary UDN is its own domain (addresses are in
    // domain order).
    let both = format!(
        "{}\n---\n{}",
        std::fs::read_to_string(real("ovnk-udn-cudn.yaml")).unwrap(),
        std::fs::read_to_string(real("ovnk-udn-generated-nad-and-pod.yaml")).unwrap()
    );
    let m = manifest::parse_str("udn.yaml", &both).unwrap();
    let s = state(&m);
    assert_eq!(
        addresses(&s, "blue/client"),
        [
            "192.168.100.7%blue/blue-l2-secondary",
            "103.103.1.5%blue/blue-network"
        ]
    );
    // Without a status the address comes from the network's subnet (rule 9.5); a namespace
    // without the primary-UDN label stays on the cluster network, with a warning.
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: blue}\n---\n\
                apiVersion: k8s.ovn.org/v1\nkind: UserDefinedNetwork\nmetadata: {name: net, \
                namespace: blue}\nspec: {topology: Layer2, layer2: {role: Primary, subnets: \
                [10.9.0.0/16]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: \
                blue}\n";
    let m = manifest::parse_str("udn.yaml", text).unwrap();
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("does not carry the label")),
        "{:?}",
        m.warnings
    );
    assert_eq!(addresses(&state(&m), "blue/p"), ["10.244.0.1"]);
    let labelled = text.replace(
        "metadata: {name: blue}",
        "metadata: {name: blue, labels: {k8s.ovn.org/primary-user-defined-network: \"\"}}",
    );
    let loaded = {
        let dir = std::env::temp_dir().join(format!("netsem-r8-10-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("udn.yaml");
        std::fs::write(&file, &labelled).unwrap();
        let l = manifest::load(&[&file], Default::default()).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        l
    };
    assert_eq!(addresses(&loaded.state, "blue/p"), ["10.9.0.1%blue/net"]);
    assert_eq!(loaded.allocated.len(), 1, "{:?}", loaded.allocated);
}

#[test]
fn r8_11_a_primary_udn_pod_reaches_no_other_network() {
    let both = format!(
        "{}\n---\n{}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: \
         default}}\nstatus: {{podIP: 10.244.0.9}}\n",
        std::fs::read_to_string(real("ovnk-udn-cudn.yaml")).unwrap(),
        std::fs::read_to_string(real("ovnk-udn-generated-nad-and-pod.yaml")).unwrap()
    );
    let s = state(&manifest::parse_str("udn.yaml", &both).unwrap());
    let (client, web) = (PodId::new("blue", "client"), PodId::new("default", "web"));
    for (a, b) in [(&client, &web), (&web, &client)] {
        let (src, dst) = s.pod_pair(a, b).unwrap();
        let d = s.decide(&src, &dst, Protocol::Tcp, 80, None);
        assert!(!d.allowed);
        assert_eq!(d.refusal, Some(netsem_spec::decision::Refusal::NoRoute));
    }
}
