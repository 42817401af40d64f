//! The connection table (rules 2.7, 2.8).

use super::{Effects, State};
use crate::connection::{Connection, Endpoint};
use crate::error::OpError;
use crate::ident::{ConnectionId, ServiceId};
use crate::net::Protocol;

impl State {
    // ----- the connection table (rules 2.7, 2.8) --------------------------------------------

    /// `newConnection`: records a connection and hands out the next id (ids start at 1 and are
    /// never reused).
    pub fn new_connection(
        &mut self,
        source: Endpoint,
        destination: Endpoint,
        protocol: Protocol,
        port: u16,
        service: Option<ServiceId>,
    ) -> ConnectionId {
        let id = self.next_connection_id;
        self.next_connection_id += 1;
        self.connections.insert(
            id,
            Connection {
                id,
                source,
                destination,
                protocol,
                port,
                service,
            },
        );
        id
    }

    /// `deleteConnection`.
    pub fn delete_connection(&mut self, id: ConnectionId) -> Result<Connection, OpError> {
        self.connections
            .remove(&id)
            .ok_or_else(|| OpError::unknown_connection(id))
    }

    /// `closePodConnection`.
    pub fn close_pod_connection(&mut self, id: ConnectionId) -> Result<Effects, OpError> {
        self.delete_connection(id)?;
        Ok(Effects::default())
    }

    pub(super) fn close_where(
        &mut self,
        doomed: impl Fn(&Connection) -> bool,
    ) -> Vec<ConnectionId> {
        let ids: Vec<ConnectionId> = self
            .connections
            .values()
            .filter(|c| doomed(c))
            .map(|c| c.id)
            .collect();
        for id in &ids {
            self.connections.remove(id);
        }
        ids
    }
}
