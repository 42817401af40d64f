//! The Service data path for the scenario generator (rules 6.12–6.18): Service types with
//! node ports, traffic policies, topology, session affinity, load-balancer addresses and
//! source ranges; `ServiceCIDR`s and the clock; connections to node ports.

use super::scenario::pick;
use arbitrary::{Result, Unstructured};
use netsem_spec::net::{Address, Protocol};
use netsem_spec::service::{SessionAffinity, TrafficDistribution};
use netsem_spec::{Op, Service, ServiceType, State, TrafficPolicy};

/// The node ports Services are given: few, so that connections hit them.
pub const NODE_PORTS: [u16; 3] = [30080, 30443, 31000];
/// Zones nodes are in.
pub const ZONES: [&str; 2] = ["zone-a", "zone-b"];
/// `ServiceCIDR` ranges: the generator's Service addresses and a neighbour.
const SERVICE_CIDRS: [&str; 3] = ["10.96.0.0/16", "fd00:96::/112", "10.97.0.0/24"];

/// Gives a Service a type, node ports, traffic policies, topology, affinity and, for a
/// LoadBalancer, which of its `external` addresses are load-balancer addresses and the source
/// ranges they admit.
pub fn service_path(u: &mut Unstructured, s: &mut Service, external: &[Address]) -> Result<()> {
    if s.service_type == ServiceType::ExternalName {
        return Ok(());
    }
    s.service_type = pick(
        u,
        &[
            ServiceType::ClusterIP,
            ServiceType::ClusterIP,
            ServiceType::NodePort,
            ServiceType::LoadBalancer,
        ],
    )?;
    if s.headless && s.service_type != ServiceType::ClusterIP {
        s.service_type = ServiceType::ClusterIP;
    }
    let external_access = s.service_type != ServiceType::ClusterIP || !external.is_empty();
    if matches!(
        s.service_type,
        ServiceType::NodePort | ServiceType::LoadBalancer
    ) {
        for p in s.ports.iter_mut() {
            if u.ratio(4, 5)? {
                p.node_port = Some(pick(u, &NODE_PORTS)?);
            }
        }
        // One Service's node ports are distinct (the API server rejects duplicates).
        let mut seen = Vec::new();
        for p in s.ports.iter_mut() {
            if let Some(n) = p.node_port {
                if seen.contains(&n) {
                    p.node_port = None;
                } else {
                    seen.push(n);
                }
            }
        }
    }
    if external_access && u.ratio(1, 3)? {
        s.external_traffic_policy = TrafficPolicy::Local;
    }
    s.traffic_distribution = match u.int_in_range(0..=5)? {
        0 => Some(TrafficDistribution::PreferSameZone),
        1 => Some(TrafficDistribution::PreferSameNode),
        _ => None,
    };
    if u.ratio(1, 4)? {
        s.session_affinity = Some(SessionAffinity {
            timeout_seconds: pick(u, &[10, 60, SessionAffinity::DEFAULT_TIMEOUT])?,
        });
    }
    if s.service_type == ServiceType::LoadBalancer {
        s.load_balancer_ips = external
            .iter()
            .filter(|_| u.ratio(2, 3).unwrap_or(false))
            .map(|a| a.ip)
            .collect();
        if u.ratio(1, 3)? {
            s.load_balancer_source_ranges =
                vec![
                    pick(u, &["10.0.0.0/24", "192.0.2.0/24", "0.0.0.0/0", "::/0"])?
                        .parse()
                        .expect("literal"),
                ];
        }
    }
    Ok(())
}

/// One operation of the Service data path: a `ServiceCIDR` added or removed, the clock moved,
/// or a connection to a node's address on a node port.
pub fn op(u: &mut Unstructured, state: &State, from: Address) -> Result<Op> {
    Ok(match u.int_in_range(0..=3)? {
        0 => Op::AddServiceCidr {
            name: pick(u, &["kubernetes", "extra"])?.into(),
            cidrs: vec![pick(u, &SERVICE_CIDRS)?.parse().expect("literal")],
        },
        1 => Op::RemoveServiceCidr {
            name: pick(u, &["kubernetes", "extra"])?.into(),
        },
        2 => Op::AdvanceClock {
            seconds: pick(u, &[1, 30, 61, 3600, 20_000])?,
        },
        _ => {
            let nodes: Vec<&Address> = state
                .addresses()
                .iter()
                .filter(|(_, o)| matches!(o, netsem_spec::AddressOwner::Node { .. }))
                .map(|(a, _)| a)
                .collect();
            let to = if nodes.is_empty() {
                Address::default_domain([10, 0, 0, 1].into())
            } else {
                (*u.choose(&nodes)?).clone()
            };
            let node_ports: Vec<(Protocol, u16)> = state
                .services()
                .flat_map(|s| s.ports.iter())
                .filter_map(|p| p.node_port.map(|n| (p.protocol, n)))
                .collect();
            let (protocol, port) = if !node_ports.is_empty() && u.ratio(4, 5)? {
                *u.choose(&node_ports)?
            } else {
                (Protocol::Tcp, pick(u, &NODE_PORTS)?)
            };
            Op::OpenConnectionWithIpAddresses {
                from,
                to,
                protocol,
                port,
                backend: None,
            }
        }
    })
}
