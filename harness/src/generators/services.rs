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

/// The hosts and paths entry points and requests are drawn from (rules 6.21, 6.24).
const HOSTS: [&str; 3] = ["shop.example.com", "*.example.com", "api.example.com"];
const PATHS: [&str; 4] = ["/", "/api", "/api/v1", "/shop.Cart/Add"];

fn host(u: &mut Unstructured) -> Result<Option<String>> {
    Ok(if u.ratio(1, 3)? {
        None
    } else {
        Some(pick(u, &HOSTS)?.to_string())
    })
}

/// A backend among the state's Services, on one of its ports.
fn backend_ref(u: &mut Unstructured, state: &State) -> Result<netsem_spec::entry::BackendRef> {
    use netsem_spec::entry::BackendRef;
    use netsem_spec::PortRef;
    let services: Vec<&Service> = state.services().collect();
    if services.is_empty() {
        return Ok(BackendRef {
            service: netsem_spec::ServiceId::new("default", "web"),
            port: PortRef::Number(80),
            weight: 1,
        });
    }
    let s = *u.choose(&services)?;
    let port = match s.ports.first() {
        Some(p) if u.ratio(4, 5)? => p.port,
        _ => pick(u, &[80, 443])?,
    };
    Ok(BackendRef {
        service: s.id.clone(),
        port: PortRef::Number(port),
        weight: pick(u, &[1, 1, 1, 0])?,
    })
}

/// A controller: some pods' labels, a Service, or an address outside the pods (rule 6.20).
fn controller(
    u: &mut Unstructured,
    state: &State,
    from: &Address,
) -> Result<netsem_spec::entry::Controller> {
    use netsem_spec::entry::Controller;
    let pods: Vec<&netsem_spec::Pod> = state.pods().collect();
    let services: Vec<&Service> = state.services().collect();
    Ok(match u.int_in_range(0..=2)? {
        0 if !pods.is_empty() => {
            let p = *u.choose(&pods)?;
            Controller::Pods {
                namespace: p.id.namespace.clone(),
                selector: p.labels.clone(),
            }
        }
        1 if !services.is_empty() => Controller::Service(u.choose(&services)?.id.clone()),
        _ => Controller::Address(Address::default_domain(match from.ip {
            std::net::IpAddr::V4(_) => [100, 64, 0, 1].into(),
            std::net::IpAddr::V6(_) => "fd00:64::1".parse().expect("literal"),
        })),
    })
}

/// An entry point's `namespace/name`: one of a few, in a namespace the state has.
fn entry_name(u: &mut Unstructured, state: &State) -> Result<netsem_spec::ObjectId> {
    let namespaces: Vec<String> = state.namespaces().into_iter().collect();
    let ns = if namespaces.is_empty() {
        "default".to_string()
    } else {
        u.choose(&namespaces)?.clone()
    };
    Ok(netsem_spec::ObjectId::new(
        ns,
        pick(u, &["edge", "public"])?,
    ))
}

/// The entry-point operations (rules 6.19–6.26): Ingresses, Gateways, routes, grants, and
/// connections through them from `from`.
pub fn entry_op(u: &mut Unstructured, state: &State, from: Address) -> Result<Op> {
    use netsem_spec::entry::*;
    let gateways: Vec<&Gateway> = state
        .entry_points()
        .filter_map(|e| match e {
            EntryPoint::Gateway(g) => Some(g),
            EntryPoint::Ingress(_) => None,
        })
        .collect();
    Ok(match u.int_in_range(0..=11)? {
        0 => {
            let mut rules = Vec::new();
            for _ in 0..u.int_in_range(0..=2)? {
                let mut paths = Vec::new();
                for _ in 0..u.int_in_range(1..=2)? {
                    paths.push(IngressPath {
                        path: pick(u, &PATHS)?.into(),
                        path_type: pick(
                            u,
                            &[
                                IngressPathType::Prefix,
                                IngressPathType::Exact,
                                IngressPathType::ImplementationSpecific,
                            ],
                        )?,
                        backend: backend_ref(u, state)?,
                    });
                }
                rules.push(IngressRule {
                    host: host(u)?,
                    paths,
                });
            }
            Op::AddIngress {
                ingress: Ingress {
                    id: entry_name(u, state)?,
                    class: None,
                    controller: controller(u, state, &from)?,
                    default_backend: if u.ratio(1, 3)? {
                        Some(backend_ref(u, state)?)
                    } else {
                        None
                    },
                    rules,
                    tls: u.arbitrary()?,
                },
            }
        }
        1 => Op::RemoveIngress {
            ingress: entry_name(u, state)?,
        },
        2 => {
            let mut listeners = Vec::new();
            for (i, (protocol, port)) in [
                (ListenerProtocol::HTTP, 80),
                (ListenerProtocol::HTTPS, 443),
                (ListenerProtocol::TLS, 8443),
                (ListenerProtocol::TCP, 9000),
                (ListenerProtocol::UDP, 53),
            ]
            .into_iter()
            .enumerate()
            {
                if u.ratio(1, 2)? {
                    continue;
                }
                let hosted = !matches!(protocol, ListenerProtocol::TCP | ListenerProtocol::UDP);
                listeners.push(Listener {
                    name: format!("l{i}"),
                    protocol,
                    port,
                    hostname: if hosted { host(u)? } else { None },
                    allowed_routes: AllowedRoutes {
                        from: pick(
                            u,
                            &[
                                FromNamespaces::Same,
                                FromNamespaces::All,
                                FromNamespaces::Selector,
                                FromNamespaces::None,
                            ],
                        )?,
                        selector: if u.arbitrary()? {
                            Some(super::scenario::namespace_selector(u)?)
                        } else {
                            None
                        },
                        kinds: Vec::new(),
                    },
                });
            }
            Op::AddGateway {
                gateway: Gateway {
                    id: entry_name(u, state)?,
                    class: None,
                    controller: controller(u, state, &from)?,
                    listeners,
                },
            }
        }
        3 => Op::RemoveGateway {
            gateway: entry_name(u, state)?,
        },
        4 => {
            let kind = pick(
                u,
                &[
                    RouteKind::HTTPRoute,
                    RouteKind::HTTPRoute,
                    RouteKind::GRPCRoute,
                    RouteKind::TLSRoute,
                    RouteKind::TCPRoute,
                    RouteKind::UDPRoute,
                ],
            )?;
            let parent = if gateways.is_empty() {
                entry_name(u, state)?
            } else {
                u.choose(&gateways)?.id.clone()
            };
            let id = entry_name(u, state)?;
            let mut rules = Vec::new();
            for _ in 0..u.int_in_range(1..=2)? {
                let mut matches = Vec::new();
                if matches!(kind, RouteKind::HTTPRoute | RouteKind::GRPCRoute) && u.arbitrary()? {
                    let mut m = RouteMatch::default();
                    if kind == RouteKind::GRPCRoute {
                        m.grpc_service = Some("shop.Cart".into());
                    } else {
                        m.path = Some(PathMatch {
                            match_type: pick(
                                u,
                                &[PathMatchType::PathPrefix, PathMatchType::Exact],
                            )?,
                            value: pick(u, &PATHS)?.into(),
                        });
                    }
                    if u.ratio(1, 4)? {
                        m.headers.insert("x-canary".into(), "1".into());
                    }
                    matches.push(m);
                }
                rules.push(RouteRule {
                    matches,
                    backend_refs: vec![backend_ref(u, state)?],
                });
            }
            Op::AddRoute {
                route: Route {
                    id: RouteId {
                        kind,
                        namespace: id.namespace,
                        name: id.name,
                    },
                    parent_refs: vec![ParentRef {
                        namespace: Some(parent.namespace),
                        name: parent.name,
                        section_name: None,
                        port: None,
                    }],
                    hostnames: if kind.has_hostnames() {
                        host(u)?.into_iter().collect()
                    } else {
                        Vec::new()
                    },
                    rules,
                },
            }
        }
        5 => {
            let routes: Vec<RouteId> = state.routes().map(|r| r.id.clone()).collect();
            Op::RemoveRoute {
                route: if routes.is_empty() {
                    "HTTPRoute/default/edge".parse().expect("literal")
                } else {
                    u.choose(&routes)?.clone()
                },
            }
        }
        6 => {
            let id = entry_name(u, state)?;
            let other = entry_name(u, state)?;
            Op::AddReferenceGrant {
                grant: ReferenceGrant {
                    id,
                    from: vec![GrantFrom {
                        kind: pick(u, &[RouteKind::HTTPRoute, RouteKind::TCPRoute])?,
                        namespace: other.namespace,
                    }],
                    services: Vec::new(),
                },
            }
        }
        7 => Op::RemoveReferenceGrant {
            grant: entry_name(u, state)?,
        },
        _ => {
            let entries: Vec<EntryPointId> = state.entry_points().map(EntryPoint::id).collect();
            let via = if entries.is_empty() {
                EntryPointId::new(EntryKind::Ingress, "default", "edge")
            } else {
                u.choose(&entries)?.clone()
            };
            let (protocol, port) = pick(
                u,
                &[
                    (Protocol::Tcp, 80),
                    (Protocol::Tcp, 80),
                    (Protocol::Tcp, 443),
                    (Protocol::Tcp, 8443),
                    (Protocol::Tcp, 9000),
                    (Protocol::Udp, 53),
                ],
            )?;
            let mut op = Op::OpenEntryPointConnection {
                from,
                via,
                protocol,
                port,
                host: host(u)?.map(|h| h.replace("*.", "www.")),
                path: Some(pick(u, &PATHS)?.into()),
                method: None,
                headers: if u.ratio(1, 4)? {
                    [("x-canary".to_string(), "1".to_string())].into()
                } else {
                    Default::default()
                },
                controller: None,
                backend: None,
            };
            // Name a possible controller and backend most of the time, as an implementation
            // would report them.
            if let Some(req) = op.entry_request() {
                if let Ok(a) =
                    netsem_spec::decision::entry::attempt_entry(state, &netsem_spec::SpecCore, &req)
                {
                    if !a.paths.is_empty() && u.ratio(2, 3)? {
                        let p = u.choose(&a.paths)?;
                        let backends: Vec<&netsem_spec::PodId> = p.backends.keys().collect();
                        if let Op::OpenEntryPointConnection {
                            controller,
                            backend,
                            ..
                        } = &mut op
                        {
                            *controller = p.controller.pod().cloned();
                            if !backends.is_empty() {
                                *backend = Some((*u.choose(&backends)?).clone());
                            }
                        }
                    }
                }
            }
            op
        }
    })
}
