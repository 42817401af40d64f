//! KubeVirt (`kubevirt.io/v1`): a VirtualMachine is a workload whose one instance, a
//! VirtualMachineInstance of the same name, runs in a virt-launcher pod; that pod carries the
//! VM's labels and its interfaces' ports, so NetworkPolicies and Services select and reach the
//! VM through it (rule 9.11; docs/MANIFESTS.md).
//!
//! Sources (kubevirt/kubevirt at d923fdb8): `pkg/virt-controller/watch/vm/vm.go`
//! `SetupVMIFromVM` (the VMI has the VM's name and exactly the template's labels),
//! `pkg/virt-controller/services/template.go` (`GenerateName: "virt-launcher-<vmi>-"`,
//! `podLabels`), `rendercontainer.go` `containerPortsFromVMI` (every interface's `ports`,
//! protocol TCP by default, on the `compute` container).

use super::object::{HasMetadata, Obj};
use super::validate::{self, child, index, Check, Invalid};
use super::workloads::{fnv1a, template_text, unique_suffix};
use super::{LoadError, Object};
use crate::ident::PodId;
use crate::pod::{Attachment, ContainerPort, Pod, PodPhase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The API version of VirtualMachine and VirtualMachineInstance.
pub(crate) const KUBEVIRT_API_VERSION: &str = "kubevirt.io/v1";

/// `VirtualMachine`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VirtualMachine {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: VmSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VmSpec {
    #[serde(default)]
    running: Option<bool>,
    #[serde(default)]
    run_strategy: Option<String>,
    #[serde(default)]
    template: Option<VmiTemplate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VmiTemplate {
    #[serde(default)]
    metadata: Option<ObjectMeta>,
    #[serde(default)]
    spec: VmiSpec,
}

/// `VirtualMachineInstance`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VirtualMachineInstance {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: VmiSpec,
    #[serde(default)]
    status: Option<VmiStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VmiSpec {
    #[serde(default)]
    domain: Domain,
    #[serde(default)]
    networks: Vec<VmNetwork>,
    #[serde(default)]
    hostname: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Domain {
    #[serde(default)]
    devices: Devices,
}

#[derive(Debug, Default, Deserialize)]
struct Devices {
    #[serde(default)]
    interfaces: Vec<Interface>,
}

#[derive(Debug, Default, Deserialize)]
struct Interface {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ports: Vec<VmPort>,
}

#[derive(Debug, Default, Deserialize)]
struct VmPort {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    port: i32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VmNetwork {
    #[serde(default)]
    name: String,
    #[serde(default)]
    pod: Option<Value>,
    #[serde(default)]
    multus: Option<Multus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Multus {
    #[serde(default)]
    network_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VmiStatus {
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    node_name: Option<String>,
    #[serde(default)]
    interfaces: Vec<VmiInterface>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VmiInterface {
    #[serde(default)]
    name: String,
    #[serde(default)]
    pod_interface_name: Option<String>,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    ip_addresses: Vec<String>,
}

impl HasMetadata for VirtualMachine {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl HasMetadata for VirtualMachineInstance {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// The interfaces' ports, as `containerPortsFromVMI` puts them on the `compute` container.
fn ports(spec: &VmiSpec, path: &str) -> Check<Vec<ContainerPort>> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, iface) in spec.domain.devices.interfaces.iter().enumerate() {
        for (j, p) in iface.ports.iter().enumerate() {
            let at = index(
                &child(
                    &index(&child(path, "domain.devices.interfaces"), i),
                    "ports",
                ),
                j,
            );
            if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                validate::port_name(name).map_err(|m| Invalid::new(child(&at, "name"), m))?;
                if !names.insert(name.to_string()) {
                    return Err(Invalid::new(
                        child(&at, "name"),
                        format!("Duplicate value: {name:?}"),
                    ));
                }
            }
            if p.port == 0 {
                return Err(Invalid::new(child(&at, "port"), "Required value"));
            }
            let port = validate::port_number(p.port, &child(&at, "port"))?;
            let protocol = match p.protocol.as_deref() {
                None | Some("") | Some("TCP") => crate::net::Protocol::Tcp,
                Some("UDP") => crate::net::Protocol::Udp,
                Some(other) => {
                    return Err(Invalid::new(
                        child(&at, "protocol"),
                        format!("Unsupported value: {other:?}: supported values: \"TCP\", \"UDP\""),
                    ))
                }
            };
            out.push(ContainerPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port,
                protocol,
            });
        }
        if iface.name.is_empty() {
            return Err(Invalid::new(
                child(&index(&child(path, "domain.devices.interfaces"), i), "name"),
                "Required value",
            ));
        }
        if !spec.networks.iter().any(|n| n.name == iface.name) {
            return Err(Invalid::new(
                child(&index(&child(path, "domain.devices.interfaces"), i), "name"),
                format!(
                    "Invalid value: {:?}: no network of `networks` has this name",
                    iface.name
                ),
            ));
        }
    }
    Ok(out)
}

/// The label values KubeVirt derives from the VMI's name: `vm.kubevirt.io/name` is the
/// hostname (`spec.hostname`, else the name cut at its first `.`, at most 63 characters).
fn hostname(spec: &VmiSpec, name: &str) -> String {
    let h = spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| name.split('.').next().unwrap_or(name).to_string());
    h.chars().take(63).collect()
}

/// The virt-launcher pod of VMI `name` in `ns` (`virt-launcher-NAME-<5>`, hashed from the
/// VMI's spec), with the VMI's labels and KubeVirt's own, and `attachments` from its status.
#[allow(clippy::too_many_arguments)]
fn launcher(
    ns: &str,
    name: &str,
    labels: &crate::selector::Labels,
    uid: Option<&str>,
    spec: &VmiSpec,
    spec_text: &str,
    ports: Vec<ContainerPort>,
    node: Option<String>,
    phase: PodPhase,
    attachments: Vec<Attachment>,
) -> Object {
    let suffix = unique_suffix(&[ns, name, spec_text], 5, &mut BTreeSet::new());
    let mut labels = labels.clone();
    labels.insert("kubevirt.io".into(), "virt-launcher".into());
    labels.insert("vm.kubevirt.io/name".into(), hostname(spec, name));
    let id = if name.len() > 63 {
        format!("{:x}", fnv1a(&[name]))
    } else {
        name.to_string()
    };
    labels.insert("vmi.kubevirt.io/id".into(), id);
    if let Some(uid) = uid.filter(|u| !u.is_empty()) {
        labels.insert("kubevirt.io/created-by".into(), uid.to_string());
    }
    let auto_address = attachments.is_empty();
    Object::Pod {
        pod: Pod {
            id: PodId::new(ns, format!("virt-launcher-{name}-{suffix}")),
            labels,
            node,
            host_network: false,
            phase,
            ready: true,
            terminating: false,
            ports,
        },
        attachments,
        auto_address,
        pool: None,
    }
}

/// Rule 9.11: a VirtualMachine: one launcher pod unless it is halted (`running: false`,
/// `runStrategy: Halted`) or waits to be started by hand (`runStrategy: Manual`).
pub(crate) fn vm_pods(obj: &Obj, value: Value) -> Result<(Vec<Object>, Option<String>), LoadError> {
    let spec_text = template_text(&value, "/spec/template/spec");
    let vm: VirtualMachine = obj.read(value)?;
    let Some(template) = &vm.spec.template else {
        return Err(obj.error("spec.template", "Required value"));
    };
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    validate::labels(&labels, "spec.template.metadata.labels").map_err(|e| obj.invalid(e))?;
    let ports = ports(&template.spec, "spec.template.spec").map_err(|e| obj.invalid(e))?;
    if vm.spec.running.is_some() && vm.spec.run_strategy.is_some() {
        return Err(obj.error(
            "spec.running",
            "Forbidden: running and runStrategy are mutually exclusive",
        ));
    }
    let runs = match (vm.spec.running, vm.spec.run_strategy.as_deref()) {
        (Some(r), _) => r,
        (None, None) => false,
        (None, Some("Always" | "RerunOnFailure" | "Once")) => true,
        (None, Some("Halted" | "Manual" | "WaitAsReceiver")) => false,
        (None, Some(other)) => {
            return Err(obj.error(
                "spec.runStrategy",
                format!(
                    "Unsupported value: {other:?}: supported values: \"Always\", \"Halted\", \
                     \"Manual\", \"Once\", \"RerunOnFailure\""
                ),
            ))
        }
    };
    if !runs {
        return Ok((
            Vec::new(),
            Some("not running (running: false, or runStrategy Halted or Manual): no pod".into()),
        ));
    }
    let pod = launcher(
        obj.ns(),
        &obj.name,
        &labels,
        None,
        &template.spec,
        &spec_text,
        ports,
        None,
        PodPhase::Running,
        Vec::new(),
    );
    Ok((vec![pod], None))
}

/// Rule 9.11: a VirtualMachineInstance: its launcher pod, on the VMI's node, with the
/// addresses its status reports for the pod network (`eth0`) and its Multus networks.
pub(crate) fn vmi_pods(obj: &Obj, value: Value) -> Result<Vec<Object>, LoadError> {
    let spec_text = template_text(&value, "/spec");
    let vmi: VirtualMachineInstance = obj.read(value)?;
    let labels = vmi.metadata.labels.clone().unwrap_or_default();
    let ports = ports(&vmi.spec, "spec").map_err(|e| obj.invalid(e))?;
    let status = vmi.status.unwrap_or_default();
    let phase = match status.phase.as_deref() {
        None | Some("") | Some("Running") => PodPhase::Running,
        Some("Pending" | "Scheduling" | "Scheduled") => PodPhase::Pending,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some(_) => PodPhase::Unknown,
    };
    let mut attachments = Vec::new();
    for (i, s) in status.interfaces.iter().enumerate() {
        let Some(net) = vmi.spec.networks.iter().find(|n| n.name == s.name) else {
            continue;
        };
        let mut ips: Vec<IpAddr> = Vec::new();
        let texts = if s.ip_addresses.is_empty() {
            s.ip_address.iter().cloned().collect()
        } else {
            s.ip_addresses.clone()
        };
        for (j, t) in texts.iter().enumerate() {
            let path = format!("status.interfaces[{i}].ipAddresses[{j}]");
            let ip = super::object::ip(t, &path).map_err(|e| obj.invalid(e))?;
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        if net.pod.is_some() {
            if !ips.is_empty() {
                attachments.insert(0, Attachment::primary(ips));
            }
        } else if let Some(m) = &net.multus {
            let network = if m.network_name.contains('/') {
                m.network_name.clone()
            } else {
                format!("{}/{}", obj.ns(), m.network_name)
            };
            let interface = s
                .pod_interface_name
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| format!("net{}", attachments.len() + 1));
            attachments.push(Attachment {
                interface,
                network,
                addresses: ips,
            });
        }
    }
    // Without a pod-network address the launcher pod's address is allocated (rule 9.5); its
    // Multus attachments need their networks, so they are kept only with it.
    if !attachments
        .iter()
        .any(|a| a.interface == crate::net::PRIMARY_INTERFACE)
    {
        attachments.clear();
    }
    Ok(vec![launcher(
        obj.ns(),
        &obj.name,
        &labels,
        vmi.metadata.uid.as_deref(),
        &vmi.spec,
        &spec_text,
        ports,
        status.node_name.filter(|n| !n.is_empty()),
        phase,
        attachments,
    )])
}
