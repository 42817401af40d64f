//! Kubernetes manifests: loading, validating and applying YAML/JSON objects. Rules 9.1–9.7.
//!
//! Loading is in two stages. [`parse_str`] and [`load_paths`] read text, validate every object
//! as the API server would (rule 9.2) and convert it to what it contributes to the state
//! ([`Object`]); nothing touches a [`State`]. [`Manifest::apply`] and [`Manifest::delete`] then
//! change a state, all or nothing (rule 9.1): they work on a clone and swap it in on success.
//!
//! The loading modules, each importing only those listed below it:
//!
//! - `loader`: the [`Manifest`] of one load: the kind dispatch table, `kind: List`, DaemonSet
//!   expansion, duplicate warnings (rules 9.1, 9.3, 9.8);
//! - `workloads`: Deployments … CronJobs become pods (rule 9.4);
//! - `kinds`: one module per other kind (rules 9.2, 9.5–9.7);
//! - `object`: the object being loaded, its origin and its errors (rule 9.1); `multus`: the
//!   pod's network-status annotation (rule 9.6); `validate`: the API server's checks (rule
//!   9.2); `parse`: files and documents (rule 9.3).
//!
//! `apply` then works on the [`Manifest`] alone (rules 9.1, 9.5).
//!
//! ```
//! use netsem_spec::manifest;
//! use netsem_spec::{PodId, State};
//!
//! let m = manifest::parse_str(
//!     "inline.yaml",
//!     "apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\nspec: {containers: []}\n",
//! )
//! .unwrap();
//! let mut state = State::default();
//! m.apply(&mut state).unwrap();
//! assert!(state.pod(&PodId::new("default", "web")).is_some());
//! ```

mod apply;
mod kinds;
mod kubevirt;
mod loader;
mod multus;
mod object;
mod parse;
mod validate;
mod workloads;

use crate::error::ErrorKind;
use crate::ident::{PodId, ServiceId};
use crate::net::Address;
use crate::pod::{Attachment, Pod};
use crate::policy::{MultiNetworkPolicy, NetworkPolicy};
use crate::profile::Profile;
use crate::selector::Labels;
use crate::service::Service;
use crate::state::State;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

pub use apply::{Applied, POD_CIDR, SERVICE_CIDR};
pub use kinds::endpoint_slice::SERVICE_NAME_LABEL;
pub use kinds::entry_point::{
    CONTROLLER_ADDRESS_ANNOTATION, CONTROLLER_SERVICE_ANNOTATION, DEFAULT_CLASS_ANNOTATION,
    GATEWAY_NAME_LABEL, INGRESS_CONTROLLER_ADDRESS,
};
pub use kinds::multi_network_policy::POLICY_FOR_ANNOTATION;
pub use kinds::network_attachment::{DOMAIN_ANNOTATION, DOMAIN_CONFIG_ATTRIBUTE};
pub use kinds::route::{ROUTER_LABEL, ROUTER_NAMESPACE};
pub use kinds::user_defined_network::{
    CUDN_PREFIX, OVN_CNI_TYPE, POD_NETWORKS_ANNOTATION, PRIMARY_UDN_LABEL,
};
pub use multus::NETWORK_STATUS_ANNOTATION;
pub use parse::{STDIN_NAME, STDIN_PATH};
pub use workloads::MAX_REPLICAS;

/// Where an object came from: the file, the document in it (from 1), and the object's kind and
/// identity as written (for workload pods: the workload's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file (or the name given to [`parse_str`]).
    pub file: String,
    /// The document in the file, from 1.
    pub document: usize,
    /// The manifest's `kind`.
    pub kind: String,
    /// `metadata.namespace` (defaulted to `default`); `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl Origin {
    /// `Kind namespace/name`, or `Kind name` for cluster-scoped kinds.
    pub fn object(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// What a manifest contributes to the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// A declared namespace (rule 1.3).
    Namespace {
        /// Its name.
        name: String,
        /// Its labels as written; the state adds the name label.
        labels: Labels,
    },
    /// A node and its `InternalIP`/`ExternalIP` addresses (rule 3.5).
    Node {
        /// Its name.
        name: String,
        /// Its labels.
        labels: Labels,
        /// Its addresses, in the default domain.
        addresses: Vec<Address>,
    },
    /// An IP address domain a Multus network needs (rule 9.6).
    IpAddressDomain {
        /// The domain.
        name: String,
    },
    /// A Multus network, `namespace/name` of its NetworkAttachmentDefinition (rule 9.6).
    Network {
        /// `namespace/name`.
        name: String,
        /// Its IP address domain.
        domain: String,
        /// Declared only because a pod attaches to it and the input does not declare it
        /// (rule 9.6): an existing network of that name is kept as it is.
        implicit: bool,
        /// Primary (a primary user-defined network) or secondary (rules 8.7, 8.9).
        role: crate::net::NetworkRole,
    },
    /// A pod, with its network attachments.
    Pod {
        /// The pod.
        pod: Pod,
        /// Its attachments (`eth0` on the default network from `status.podIPs`, others from
        /// Multus `network-status`).
        attachments: Vec<Attachment>,
        /// No `eth0` address was given: a running, non-host-network pod gets one allocated at
        /// apply time (rule 9.5).
        auto_address: bool,
        /// Where an allocated address comes from, when not from [`POD_CIDR`] on the cluster
        /// network: a primary user-defined network and its first IPv4 subnet (rule 8.10).
        pool: Option<(String, ipnet::Ipv4Net)>,
    },
    /// A Service with its cluster and external addresses.
    Service {
        /// The Service.
        service: Service,
        /// Its cluster addresses (`clusterIPs`).
        addresses: Vec<Address>,
        /// `externalIPs` and load-balancer ingress IPs.
        external_addresses: Vec<Address>,
        /// No `clusterIP` was given and the Service needs one: allocated at apply time
        /// (rule 9.5).
        auto_address: bool,
    },
    /// An EndpointSlice of a Service without selector: its explicit mapping (rule 9.7).
    EndpointSlice {
        /// The Service (`kubernetes.io/service-name`).
        service: ServiceId,
        /// The EndpointSlice controller manages it (`endpointslice.kubernetes.io/managed-by`).
        controller: bool,
        /// Endpoints given by `targetRef`, with what the slice states of each (rule 6.27).
        pods: Vec<(PodId, crate::service::EndpointFacts)>,
        /// Endpoints given only by address, resolved to pods at apply time.
        addresses: Vec<(IpAddr, crate::service::EndpointFacts)>,
    },
    /// A `ServiceCIDR`: ranges cluster addresses come from (rule 6.17).
    ServiceCidr {
        /// Its name.
        name: String,
        /// `spec.cidrs`: at most one of each family.
        cidrs: Vec<ipnet::IpNet>,
    },
    /// A NetworkPolicy.
    NetworkPolicy(NetworkPolicy),
    /// A cluster-admin policy (rule 11.1).
    AdminPolicy(crate::admin::ClusterNetworkPolicy),
    /// A MultiNetworkPolicy (rule 8.8).
    MultiNetworkPolicy(MultiNetworkPolicy),
    /// An Ingress or Gateway with its controller (rules 6.19, 6.20).
    EntryPoint(crate::entry::EntryPoint),
    /// A Gateway API route (rule 6.23).
    Route(crate::entry::Route),
    /// A ReferenceGrant (rule 6.25).
    ReferenceGrant(crate::entry::ReferenceGrant),
}

/// The objects of one or more manifest files, in input order, and the warnings of loading them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every object with its origin.
    pub objects: Vec<(Origin, Object)>,
    /// Things skipped or guessed (unknown kinds, DaemonSets without nodes, …).
    pub warnings: Vec<String>,
    /// Rule 9.10: the workload of each pod that has one: the workload that expanded to it, or
    /// its controller ownerReference.
    pub workloads: BTreeMap<PodId, WorkloadRef>,
}

/// A workload, by kind and name (its namespace is its pods'): a Deployment, a StatefulSet, a
/// ReplicationController, a VirtualMachine, … (rule 9.10). Written `name[Kind]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadRef {
    /// The kind, as manifests spell it (`Deployment`).
    pub kind: String,
    /// The name.
    pub name: String,
}

impl WorkloadRef {
    /// The workload `name` of `kind`.
    pub fn new(kind: &str, name: &str) -> Self {
        WorkloadRef {
            kind: kind.to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.name, self.kind)
    }
}

/// Why a manifest could not be loaded or applied (rule 9.1). Nothing of it was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file (or the name given to [`parse_str`]).
    pub file: String,
    /// The document in the file, from 1, when known.
    pub document: Option<usize>,
    /// `Kind namespace/name` of the object, when known.
    pub object: Option<String>,
    /// The field path inside the object, `spec.ingress[0].ports[1].endPort` style.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How a trace observes it: [`ErrorKind::InvalidManifest`] for a load error, the state's
    /// own kind (`address-in-use`, `not-found`, …) when applying an object failed.
    pub kind: ErrorKind,
}

impl LoadError {
    /// An error of the whole file.
    pub(crate) fn file(file: &str, message: impl Into<String>) -> Self {
        LoadError {
            file: file.to_string(),
            document: None,
            object: None,
            field: None,
            message: message.into(),
            kind: ErrorKind::InvalidManifest,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(d) = self.document {
            write!(f, ": document {d}")?;
        }
        if let Some(o) = &self.object {
            write!(f, ": {o}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Rules 9.1–9.4, 9.6: parses the manifest text of `file` (YAML, several documents, or JSON
/// when `file` ends in `.json`) and validates and converts every object.
pub fn parse_str(file: &str, text: &str) -> Result<Manifest, LoadError> {
    let mut loader = loader::Loader::default();
    loader.add_text(file, text)?;
    loader.finish()
}

/// Rules 9.1, 9.3: loads files and directories (recursively: `.yaml`, `.yml`, `.json`, in path
/// order) as one manifest.
///
/// The path `-` is standard input (rule 9.3), named `<stdin>` in errors: YAML, or JSON when it
/// starts with `{` (`kubectl get … -o yaml | netsem matrix -`).
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Manifest, LoadError> {
    let mut loader = loader::Loader::default();
    let mut files = Vec::new();
    for path in paths {
        if path.as_ref() == Path::new(STDIN_PATH) {
            let text = read_stdin().map_err(|e| LoadError::file(STDIN_NAME, e))?;
            files.push((STDIN_NAME.to_string(), text));
            continue;
        }
        let found = match parse::collect_files(&[path]) {
            Ok(found) => found,
            Err(e) => {
                // What was given before it is read first, so its errors come first.
                loader.add_texts(&files)?;
                return Err(e);
            }
        };
        for file in found {
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => files.push((name, text)),
                Err(e) => {
                    // As above: the files before it first.
                    loader.add_texts(&files)?;
                    return Err(LoadError::file(&name, e.to_string()));
                }
            }
        }
    }
    loader.add_texts(&files)?;
    loader.finish()
}

/// Reads all of standard input as text.
pub fn read_stdin() -> Result<String, String> {
    std::io::read_to_string(std::io::stdin()).map_err(|e| format!("reading standard input: {e}"))
}

/// Loads `paths` and applies them to an empty state under `profile`; returns the state and every
/// warning of loading and applying.
pub fn load_state<P: AsRef<Path>>(
    paths: &[P],
    profile: Profile,
) -> Result<(State, Vec<String>), LoadError> {
    load(paths, profile).map(|l| (l.state, l.warnings))
}

/// A load applied to an empty state: what [`load`] returns.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The state.
    pub state: State,
    /// Every warning of loading and applying.
    pub warnings: Vec<String>,
    /// The addresses netsem allocated, with their pod (rules 9.5, 9.13).
    pub allocated: BTreeMap<Address, PodId>,
    /// Each pod's workload (rule 9.10).
    pub workloads: BTreeMap<PodId, WorkloadRef>,
}

/// Loads `paths` and applies them to an empty state under `profile`, keeping what the
/// command line reports besides the state: warnings, allocated addresses, workloads.
pub fn load<P: AsRef<Path>>(paths: &[P], profile: Profile) -> Result<Loaded, LoadError> {
    let manifest = load_paths(paths)?;
    let mut state = State::new(profile);
    let applied = manifest.apply_detailed(&mut state)?;
    let mut warnings = manifest.warnings;
    warnings.extend(applied.warnings);
    Ok(Loaded {
        state,
        warnings,
        allocated: applied.allocated,
        workloads: manifest.workloads,
    })
}
