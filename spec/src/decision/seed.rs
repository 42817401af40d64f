//! The connection primitives under the source design's names, on [`State`] with the reference
//! core: `State::open_pod_connection` is `openPodConnection`, and so on.

use crate::connection::Endpoint;
use crate::decision::connect::{self, Directional};
use crate::decision::{Decision, DirectionVerdict, Opened, SpecCore};
use crate::error::OpError;
use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::{Address, Protocol};
use crate::state::State;

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

    /// `allowNewConnectionToPod(sourcePod, destinationPod, protocol, destinationPort)`.
    pub fn allow_new_connection_to_pod(
        &self,
        source: &PodId,
        destination: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<Directional<DirectionVerdict>, OpError> {
        connect::allow_new_connection_to_pod(self, &SpecCore, source, destination, protocol, port)
    }

    /// `allowNewConnectionFromPod(destinationPod, sourcePod, protocol, destinationPort)`.
    pub fn allow_new_connection_from_pod(
        &self,
        destination: &PodId,
        source: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<Directional<DirectionVerdict>, OpError> {
        connect::allow_new_connection_from_pod(self, &SpecCore, destination, source, protocol, port)
    }

    /// `allowNewConnectionFromIpAddress(sourceIpAddress, destinationPod, …)`.
    pub fn allow_new_connection_from_ip_address(
        &self,
        source: &Address,
        destination: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<Directional<DirectionVerdict>, OpError> {
        connect::allow_new_connection_from_ip_address(
            self,
            &SpecCore,
            source,
            destination,
            protocol,
            port,
        )
    }

    /// `allowNewConnectionToIpAddress(sourcePod, destinationIpAddress, …)`.
    pub fn allow_new_connection_to_ip_address(
        &self,
        source: &PodId,
        destination: &Address,
        protocol: Protocol,
        port: u16,
    ) -> Result<Directional<DirectionVerdict>, OpError> {
        connect::allow_new_connection_to_ip_address(
            self,
            &SpecCore,
            source,
            destination,
            protocol,
            port,
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
        connect::open_pod_connection(self, &SpecCore, source, destination, protocol, port)
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
        connect::open_service_connection(self, &SpecCore, source, service, protocol, port, pick)
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
        connect::open_connection_with_ip_addresses(
            self,
            &SpecCore,
            source,
            destination,
            protocol,
            port,
            pick,
        )
    }

    /// Rule 7.4: re-checks every open connection as if new and closes those now denied (what
    /// the engines do after every change under `established: recheck`).
    pub fn recheck(&mut self) -> Vec<ConnectionId> {
        connect::recheck(self, &SpecCore)
    }
}
