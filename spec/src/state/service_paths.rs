//! What the Service data path keeps besides the Services themselves: `ServiceCIDR` ranges
//! (rule 6.17), the clock and the session affinities it times out (rule 6.16). Primitives
//! `addServiceCIDR`, `removeServiceCIDR`, `advanceClock`.

use super::{Effects, State};
use crate::decision::services::{Affinity, AffinityKey};
use crate::error::OpError;
use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::Protocol;
use ipnet::IpNet;
use std::net::IpAddr;

impl State {
    /// `addServiceCIDR`: a range cluster addresses come from (rule 6.17).
    pub fn add_service_cidr(&mut self, name: &str, cidrs: Vec<IpNet>) -> Result<Effects, OpError> {
        if self.service_cidrs.contains_key(name) {
            return Err(OpError::already_exists("service CIDR", name));
        }
        self.service_cidrs.insert(name.to_string(), cidrs);
        Ok(self.settle())
    }

    /// `removeServiceCIDR`.
    pub fn remove_service_cidr(&mut self, name: &str) -> Result<Effects, OpError> {
        if self.service_cidrs.remove(name).is_none() {
            return Err(OpError::not_found("service CIDR", name));
        }
        Ok(self.settle())
    }

    /// The `ServiceCIDR` ranges, by name.
    pub fn service_cidrs(&self) -> &std::collections::BTreeMap<String, Vec<IpNet>> {
        &self.service_cidrs
    }

    /// Whether `ip` lies in some `ServiceCIDR` (rule 6.17).
    pub fn in_service_cidr(&self, ip: IpAddr) -> bool {
        self.service_cidrs
            .values()
            .flatten()
            .any(|n| n.contains(&ip))
    }

    /// `advanceClock`: time passes (rule 6.16: affinities time out).
    pub fn advance_clock(&mut self, seconds: u64) -> Result<Effects, OpError> {
        self.clock = self.clock.saturating_add(seconds);
        Ok(Effects::default())
    }

    /// The clock, in seconds.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Rule 6.16: the live affinity of a client to a Service port: one used no longer ago than
    /// the Service's timeout.
    pub fn affinity_of(
        &self,
        service: &ServiceId,
        protocol: Protocol,
        port: u16,
        client: IpAddr,
    ) -> Option<&Affinity> {
        let timeout = self.service(service)?.session_affinity?.timeout_seconds;
        let key = AffinityKey {
            service: service.clone(),
            protocol,
            port,
            client,
        };
        self.affinities
            .get(&key)
            .filter(|a| self.clock.saturating_sub(a.last) <= u64::from(timeout))
    }

    /// Rule 6.16: a connection through a Service with `sessionAffinity: ClientIP` sets or
    /// renews the client's affinity to its backend (the connection primitives call it; an
    /// engine that opens connections itself, as the model does, too).
    pub fn record_affinity(&mut self, key: AffinityKey, backend: PodId, connection: ConnectionId) {
        let last = self.clock;
        self.affinities.insert(
            key,
            Affinity {
                backend,
                last,
                connection,
            },
        );
    }
}
