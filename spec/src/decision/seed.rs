//! The connection primitives under the source design's names, on [`State`] with the reference
//! core: `State::open_pod_connection` is `openPodConnection`, and so on. Each is one call into
//! [`connect`], where the primitives are written once.

use crate::connection::Endpoint;
use crate::decision::connect::{self, Directional, Request, Source, Target};
use crate::decision::{Decision, DirectionVerdict, Opened, SpecCore};
use crate::error::OpError;
use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::{Address, Protocol};
use crate::policy::PolicyType;
use crate::state::State;

/// The four one-direction primitives, each [`connect::allow`] with the reference core.
macro_rules! filters {
    ($( $(#[$doc:meta])* $name:ident($first:ident: $a:ty, $second:ident: $b:ty)
        => $source:ident($from:ident), $target:ident($to:ident), $direction:ident; )+) => {
        impl State {
            $(
                $(#[$doc])*
                pub fn $name(
                    &self,
                    $first: $a,
                    $second: $b,
                    protocol: Protocol,
                    port: u16,
                ) -> Result<Directional<DirectionVerdict>, OpError> {
                    let request = Request {
                        source: Source::$source($from.clone()),
                        target: Target::$target($to.clone()),
                        protocol,
                        port,
                        pick: None,
                    };
                    connect::allow(self, &SpecCore, &request, PolicyType::$direction)
                        .expect("the ends of a one-direction primitive")
                }
            )+
        }
    };
}

filters! {
    /// `allowNewConnectionToPod(sourcePod, destinationPod, protocol, destinationPort)`.
    allow_new_connection_to_pod(source: &PodId, destination: &PodId)
        => Pod(source), Pod(destination), Egress;
    /// `allowNewConnectionFromPod(destinationPod, sourcePod, protocol, destinationPort)`.
    allow_new_connection_from_pod(destination: &PodId, source: &PodId)
        => Pod(source), Pod(destination), Ingress;
    /// `allowNewConnectionFromIpAddress(sourceIpAddress, destinationPod, …)`.
    allow_new_connection_from_ip_address(source: &Address, destination: &PodId)
        => Address(source), Pod(destination), Ingress;
    /// `allowNewConnectionToIpAddress(sourcePod, destinationIpAddress, …)`.
    allow_new_connection_to_ip_address(source: &PodId, destination: &Address)
        => Pod(source), Address(destination), Egress;
}

impl State {
    /// The decision for a new connection between two endpoints (rules 2.3, 5.4, 7.x, 8.6).
    pub fn decide(
        &self,
        source: &Endpoint,
        destination: &Endpoint,
        protocol: Protocol,
        port: u16,
        service: Option<&ServiceId>,
    ) -> Decision {
        connect::decide(
            self,
            &SpecCore,
            source,
            destination,
            protocol,
            port,
            service,
        )
    }

    /// `openPodConnection(sourcePod, destinationPod, protocol, port)`.
    pub fn open_pod_connection(
        &mut self,
        source: &PodId,
        destination: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<Opened, OpError> {
        self.open(
            Source::Pod(source.clone()),
            Target::Pod(destination.clone()),
            protocol,
            port,
            None,
        )
    }

    /// `openServiceConnection(sourcePod, destinationService, protocol, port)`; `pick` is the
    /// backend an implementation picked (rule 6.1).
    pub fn open_service_connection(
        &mut self,
        source: &PodId,
        service: &ServiceId,
        protocol: Protocol,
        port: u16,
        pick: Option<&PodId>,
    ) -> Result<Opened, OpError> {
        self.open(
            Source::Pod(source.clone()),
            Target::Service(service.clone()),
            protocol,
            port,
            pick,
        )
    }

    /// `openConnectionWithIpAddresses(sourceDomain, sourceIp, destinationDomain,
    /// destinationIp, protocol, port)`.
    pub fn open_connection_with_ip_addresses(
        &mut self,
        source: &Address,
        destination: &Address,
        protocol: Protocol,
        port: u16,
        pick: Option<&PodId>,
    ) -> Result<Opened, OpError> {
        self.open(
            Source::Address(source.clone()),
            Target::Address(destination.clone()),
            protocol,
            port,
            pick,
        )
    }

    fn open(
        &mut self,
        source: Source,
        target: Target,
        protocol: Protocol,
        port: u16,
        pick: Option<&PodId>,
    ) -> Result<Opened, OpError> {
        let request = Request {
            source,
            target,
            protocol,
            port,
            pick: pick.cloned(),
        };
        connect::open(self, &SpecCore, &request)
    }

    /// Rule 7.4: re-checks every open connection as if new and closes those now denied (what
    /// the engines do after every change under `established: recheck`).
    pub fn recheck(&mut self) -> Vec<ConnectionId> {
        connect::recheck(self, &SpecCore)
    }
}
